"""Postmark: webhook records (parse, facts) and their HTTP Basic credentials (auth)."""
