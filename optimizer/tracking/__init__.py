"""Tracking: the SQLite trade ledger, month-to-date progress and re-plan, the income allocator."""
