"""Infobip: delivery reports and tracking events (parse, facts) and its optional HTTP Basic check (auth)."""
