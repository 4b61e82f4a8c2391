"""SendCloud's email status query (shared/seeds/003)."""
