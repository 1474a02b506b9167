"""avagent: agentic audio repair for audio-visual data."""

__version__ = "0.1.0"
