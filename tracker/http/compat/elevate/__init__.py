"""Elevate's email status API (shared/seeds/000)."""
