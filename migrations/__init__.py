"""Alembic migrations of the tracker's schema; shipped inside the package as tracker.migrations."""
