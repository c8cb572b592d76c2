"""Layer 6/7 — viz: charts, maps and Grafana provisioning. Not built yet (a later issue); imports layers 1-5 only."""
