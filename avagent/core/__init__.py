"""Shared vocabulary: Clip and media I/O, configuration, signal features, metrics and the corruption simulator."""
