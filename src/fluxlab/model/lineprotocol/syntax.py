"""Facts of the line protocol syntax shared by the encoder and both parsers: reserved keys,
the characters each element escapes, the boolean spellings InfluxDB accepts and the integer
ranges. They live apart so the encoder, the exact parser and the vectorized parser read one
definition each without importing one another."""

from __future__ import annotations

LINE_COLUMN = "_line"
"""Extra batch column holding each row's source line number (see TEAM contract)."""

RESERVED_KEYS = frozenset({"_measurement", "_field", "time", LINE_COLUMN})
"""Tag/field keys that are rejected: InfluxDB reserves `_measurement`, `_field` and the
key `time`; `_line` would collide with the line-number column of decoded batches."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1

_MEASUREMENT_SPECIALS = ", "
_KEY_SPECIALS = ",= "
_BOOL_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_BOOL_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
