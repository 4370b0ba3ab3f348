"""Reconciliation: `gather` reads both sides (QuickBooks records, Procore documents), `compare` is pure."""
