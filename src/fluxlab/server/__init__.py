"""Layer 6/7 — server: the InfluxDB v2-compatible HTTP API and web UI. Not built yet (a later issue); imports layers 1-5 only."""
