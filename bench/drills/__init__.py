"""Fault drills: the production path on private PostgreSQL and Redis, one injected fault each (see __main__)."""
