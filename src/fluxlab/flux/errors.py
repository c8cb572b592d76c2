"""Errors raised by the Flux front end and runtime; all derive from FluxError."""

from __future__ import annotations


class FluxError(Exception):
    """A Flux error with an optional source position (1-based line and column)."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is not None:
            return f"error at {self.line}:{self.column or 0}: {self.message}"
        return self.message


class FluxSyntaxError(FluxError):
    """The source text is not valid Flux."""


class FluxRuntimeError(FluxError):
    """Evaluation failed: a bad argument value, a missing column, a runaway query..."""


class FluxTypeError(FluxRuntimeError):
    """An operation was applied to values of the wrong type, e.g. `"a" + 1`."""


class UnsupportedError(FluxRuntimeError):
    """A function, package or option this engine does not implement (yet)."""
