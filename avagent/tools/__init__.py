"""Perception: audio and video describers and the reflection scorer."""
