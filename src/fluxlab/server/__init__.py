"""Layer 6/7 — server. Imports layers 1-5 only."""
