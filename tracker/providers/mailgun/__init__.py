"""Mailgun: webhook events (parse) and their HMAC signature (auth)."""
