"""Layer 8 — the command line: parses arguments, calls the layers, prints."""
