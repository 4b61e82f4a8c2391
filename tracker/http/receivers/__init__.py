"""Webhook receivers: authenticate, bound, store and commit, then wake a worker."""
