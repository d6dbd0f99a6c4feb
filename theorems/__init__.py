"""Proof-check suite: one module per theorem of docs/contract.md (run with ``pytest theorems/``)."""
