"""InfluxDB line protocol: encode points and batches, decode text into batches.

Syntax (InfluxDB v2 reference)::

    measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]

Escaping: the measurement escapes comma and space; tag keys, tag values and field
keys escape comma, equals sign and space; string field values escape double quote
and backslash. A backslash before another backslash stands for one backslash; a
backslash before any other character is literal. Newlines cannot be represented.

Decoding is vectorized. A NumPy fast path finds the structural delimiters of
all lines at once (space, comma and equals sign outside quoted strings and not
escaped by a backslash), groups lines by delimiter shape and by the bytes of their
keys, and cuts value columns straight out of the input buffer as Arrow string views
(numbers parsed by Polars; escaped values cut from a copy of the buffer without its
escaping backslashes).
Lines it does not handle exactly (leading whitespace, odd quoting, empty parts,
unusual spellings, and every invalid line) go through an exact Python parser that
reports the line and column of the problem. Both paths produce the
same intermediate frames, which are merged per measurement, checked for field
type conflicts the way InfluxDB does (the earlier line wins, the later conflicting
line is rejected) and turned into `PointBatch`es.

The codec is split by concern: `syntax` (reserved keys, special characters), `errors`
(`LineError`, `DecodeResult`, `LineSyntaxError`), `escaping`, `encode`, `exact` (the
per-line parser), `frames` (the intermediate frames and per-decode context), `scan`
(line bounds and delimiters), `cut` (string views and word loads over a window's
bytes), `unescape` (backslash runs), `fast` (the NumPy path), `slow` (the exact path over the
lines the fast path refused), `assemble` (frames into `PointBatch`es) and `decoding`
(`decode`, `decode_file_chunks`, `line_blocks`). Import from the package, not the modules.
"""

from fluxlab.model.lineprotocol.decoding import decode, decode_file_chunks, line_blocks
from fluxlab.model.lineprotocol.encode import encode_batch, encode_point, format_field_value
from fluxlab.model.lineprotocol.errors import (
    ERROR_TEXT_LIMIT,
    DecodeResult,
    LineError,
    LineSyntaxError,
)
from fluxlab.model.lineprotocol.escaping import (
    escape_key,
    escape_measurement,
    escape_string_value,
)
from fluxlab.model.lineprotocol.exact import ParsedLine, parse_line
from fluxlab.model.lineprotocol.syntax import (
    INT64_MAX,
    INT64_MIN,
    LINE_COLUMN,
    RESERVED_KEYS,
    UINT64_MAX,
)

__all__ = [
    "ERROR_TEXT_LIMIT",
    "INT64_MAX",
    "INT64_MIN",
    "LINE_COLUMN",
    "RESERVED_KEYS",
    "UINT64_MAX",
    "DecodeResult",
    "LineError",
    "LineSyntaxError",
    "ParsedLine",
    "decode",
    "decode_file_chunks",
    "encode_batch",
    "encode_point",
    "escape_key",
    "escape_measurement",
    "escape_string_value",
    "format_field_value",
    "line_blocks",
    "parse_line",
]
