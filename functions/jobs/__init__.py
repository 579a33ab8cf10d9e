"""Job records: one per workflow, in Table Storage, for listing, progress and audit."""
