"""Layer 6/7 — viz. Imports layers 1-5 only."""
