"""One module per schema revision (Alembic reads them; this file it skips)."""
