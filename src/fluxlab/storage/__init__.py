"""Layer 2 — the embedded time-series engine on DuckDB. Imports only `fluxlab.model`."""
