"""The peer in bench/ingest.py: a minimal Django project serving django-ses's SNS webhook view."""
