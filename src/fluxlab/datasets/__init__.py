"""Layer 6/7 — datasets. Imports layers 1-5 only."""
