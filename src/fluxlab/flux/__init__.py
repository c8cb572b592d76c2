"""Layer 4 — the Flux language: lexer -> parser -> AST -> interpreter over table streams."""
