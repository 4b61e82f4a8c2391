"""Postman's transactional email API (shared/seeds/004)."""
