"""Infobip's email logs and delivery reports (shared/seeds/001, 002) and the /email/4 API its official SDK calls."""
