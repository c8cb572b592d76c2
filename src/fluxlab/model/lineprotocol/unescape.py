"""Backslash escapes on the fast path, resolved with NumPy over the backslashes only.

Escaping is positional: in a run of backslashes each pair stands for one backslash,
and an odd run's last backslash escapes the next byte when that byte is escapable
where it stands (measurement: comma, space; keys and tag values: comma, equals sign,
space; string fields: double quote). Knowing the runs, the fast path finds which
delimiters are escaped (not structural) and which backslashes to remove. Removing
them from a copy of the window gives a "clean" buffer: string values are then cut
from it like plain values (offsets shifted by the number of removed bytes before
them), so no per-value regex replace is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fluxlab.model.lineprotocol.scan import _K_COMMA, _K_EQ, _K_NL, _K_QUOTE, _K_SP


@dataclass(frozen=True)
class _Runs:
    """The backslashes of a window (indices into the delimiter array) and their runs."""

    at: np.ndarray  # index into the delimiter array of each backslash
    pair_first: np.ndarray  # even place in its run and followed by the run's next backslash
    odd_end: np.ndarray  # ends an odd run, with a delimiter byte right after it
    follower: np.ndarray  # index of the delimiter after each backslash

    @classmethod
    def of(cls, pos: np.ndarray, backslash_at: np.ndarray) -> _Runs:
        """Runs of adjacent backslashes, from the delimiter offsets (which end with a
        newline, so every backslash has a follower)."""
        b = backslash_at
        joined = np.zeros(len(b), bool)  # continues the run of the previous backslash
        joined[1:] = (np.diff(b) == 1) & (np.diff(pos[b]) == 1)
        run_first = np.flatnonzero(~joined)
        even = (np.arange(len(b)) - run_first[np.cumsum(~joined) - 1]) % 2 == 0
        last_of_run = np.ones(len(b), bool)
        last_of_run[:-1] = ~joined[1:]
        follower = b + 1
        odd_end = even & last_of_run & (pos[follower] == pos[b] + 1)
        return cls(b, even & ~last_of_run, odd_end, follower)

    def escaped(self, kind: np.ndarray) -> np.ndarray:
        """Indices of delimiters escaped by a backslash (newlines never are)."""
        escaped = self.follower[self.odd_end]
        return escaped[kind[escaped] != _K_NL]

    def removable(
        self,
        pos: np.ndarray,
        kind: np.ndarray,
        in_string: np.ndarray | None,
        in_measurement: np.ndarray,
    ) -> np.ndarray:
        """Byte offsets of the backslashes that unescaping removes, given for each
        backslash whether it lies in a string field or in the measurement (else in a
        key or tag value; numbers and timestamps are never cut from the clean buffer)."""
        follows = kind[self.follower]
        escapable = (follows == _K_COMMA) | (follows == _K_SP)
        escapable = np.where(in_measurement, escapable, escapable | (follows == _K_EQ))
        if in_string is not None:
            escapable = np.where(in_string, follows == _K_QUOTE, escapable)
        return pos[self.at[self.pair_first | (self.odd_end & escapable)]]
