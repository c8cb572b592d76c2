"""Layer 6/7 — analysis. Imports layers 1-5 only."""
