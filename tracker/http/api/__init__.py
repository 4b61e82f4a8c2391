"""Read APIs: the native API under /api/v1 (and, later, one module per compatible style)."""
