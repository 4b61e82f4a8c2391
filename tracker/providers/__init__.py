"""Provider parsers: one module per provider turns a raw payload into normalized events."""
