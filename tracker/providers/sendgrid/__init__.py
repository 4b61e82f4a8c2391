"""SendGrid: Event Webhook batches (parse) and their ECDSA signature (auth)."""
