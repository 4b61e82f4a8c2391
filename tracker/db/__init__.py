"""Persistence: the models, the engine, migrations, API-key hashing, and the repository (every query)."""
