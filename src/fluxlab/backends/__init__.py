"""Layer 5 — one backend interface, two implementations: embedded and InfluxDB 2."""
