"""The eight audio edits as pure functions `(audio, sr, params) -> audio`, and their registry.

Import the registry from `avagent.actions.registry` (it imports every action module).
"""
