"""The event pipeline. No HTTP vocabulary.

Intake (verify, store, wake), the inbox vocabulary, ingest (claim, apply, a row fails alone),
registration, operations.
"""
