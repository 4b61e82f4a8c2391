"""SendCloud: webhook pushes (parse, facts) and their HMAC with a one-time token (auth)."""
