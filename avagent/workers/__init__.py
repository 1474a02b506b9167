"""Celery app and tasks, and the embedded in-process executor."""
