"""Celery entry point and tasks."""
