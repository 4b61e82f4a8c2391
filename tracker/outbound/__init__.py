"""Outbound webhooks: signing, destination rules (SSRF guard), the pinned HTTP POST and the retry policy."""
