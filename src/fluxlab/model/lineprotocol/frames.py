"""The intermediate frames both decode paths produce, and the per-decode state that collects
them: type codes (0 for a tag, one per field type), the `c<key>`/`v<key>_<code>` column
names, and `_Context` (input, options, key ids, frames, errors). It is the contract between
the fast path, the slow path and the assembly into batches, so it stands on its own."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fluxlab.model.lineprotocol.cut import _Bytes
from fluxlab.model.lineprotocol.errors import ERROR_TEXT_LIMIT, LineError
from fluxlab.model.points import FieldType
from fluxlab.model.precision import Precision

# Type codes of the intermediate frames: 0 marks a tag, the rest a field type.
_TAG = 0
_CODES: dict[FieldType, int] = {
    FieldType.FLOAT: 1,
    FieldType.INTEGER: 2,
    FieldType.UNSIGNED: 3,
    FieldType.STRING: 4,
    FieldType.BOOLEAN: 5,
}
_TYPES: dict[int, FieldType] = {code: ftype for ftype, code in _CODES.items()}
_POLARS_TYPES: dict[int, pl.DataType] = {
    _TAG: pl.Utf8(),
    1: pl.Float64(),
    2: pl.Int64(),
    3: pl.UInt64(),
    4: pl.Utf8(),
    5: pl.Boolean(),
}


@dataclass(frozen=True)
class _Scan:
    """One scan of an input: its padded bytes and every delimiter's offset and kind code
    (closed by a newline at the end), shared by line splitting and the fast path."""

    src: _Bytes
    pos: np.ndarray
    kind: np.ndarray


@dataclass
class _Context:
    """State shared by one decode call: input, options, key ids, frames and errors."""

    raw: bytes
    starts: np.ndarray
    ends: np.ndarray
    precision: Precision
    default_time_ns: int
    first_line: int
    source: str
    key_ids: dict[str, int] = field(default_factory=dict)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)
    scan: _Scan | None = None  # the input's bytes and delimiters, when already scanned

    @property
    def size(self) -> int:
        """Bytes holding the lines: the input up to its last line's end (newline excluded)."""
        return int(self.ends[-1]) if len(self.ends) else 0

    def key_id(self, key: str) -> int:
        return self.key_ids.setdefault(key, len(self.key_ids))

    def add_frame(self, measurement: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.frames.setdefault(measurement, []).append(frame)

    def text(self, index: int) -> str:
        """The text of line `index` (0-based within this input)."""
        return self.raw[self.starts[index] : self.ends[index]].decode("utf-8", errors="replace")

    def error(self, line_no: int, column: int, text: str, message: str) -> None:
        excerpt = text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT] + "..."
        self.errors.append(LineError(self.source, line_no, column + 1, excerpt, message))


def _code_col(key_id: int) -> str:
    return f"c{key_id}"


def _value_col(key_id: int, code: int) -> str:
    return f"v{key_id}_{code}"
