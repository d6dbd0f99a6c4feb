"""Proof-check suite: one module per theorem of spec/THEOREMS.md (run with ``pytest theorems/``)."""
