"""The event pipeline: intake (verify, store, wake), the inbox vocabulary, ingest (claim, apply, a row fails alone), registration, operations. No HTTP vocabulary."""
