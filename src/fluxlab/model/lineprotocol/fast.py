"""The vectorized parser: NumPy over the raw bytes of many lines at once, grouping lines by
delimiter shape and key bytes and cutting typed value columns straight out of the buffer.
It is the hot path for every plain line and by far the largest part of the codec; whatever
it cannot decode exactly it returns as line indices for the slow path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from fluxlab.model.lineprotocol.frames import (
    _CODES,
    _POLARS_TYPES,
    _TAG,
    _TYPES,
    _code_col,
    _Context,
    _value_col,
)
from fluxlab.model.lineprotocol.scan import (
    _K_BSLASH,
    _K_COMMA,
    _K_EQ,
    _K_NL,
    _K_QUOTE,
    _K_SP,
    _QUOTE,
    _delimiters,
)
from fluxlab.model.lineprotocol.syntax import _BOOL_FALSE, _BOOL_TRUE, RESERVED_KEYS
from fluxlab.model.points import TIME_COLUMN, FieldType
from fluxlab.model.precision import Precision

# ----------------------------------------------------------------- fast path
#
# The fast path works on the raw bytes with NumPy: it finds the structural
# delimiters of every candidate line (space, comma, equals sign outside quoted
# strings and not backslash-escaped), groups lines by their delimiter shape and by their key bytes, and cuts
# value columns straight out of the buffer (strings as Arrow arrays, integers,
# timestamps and booleans parsed in NumPy, floats by Polars). Anything unusual
# (odd quotes, empty parts, values that do not parse, reserved or repeated keys)
# is handed to the exact parser. It runs over windows of whole
# lines (`_WINDOW_BYTES`) so its temporaries stay small.


_MEASUREMENT_ESCAPE = re.compile(r"\\([, \\])")
_KEY_ESCAPE = re.compile(r"\\([,= \\])")
_MAX_TEMPLATES = 64
"""Distinct key sets per delimiter shape handled vectorized; more go to the exact parser."""

_FLOAT_BYTES = np.zeros(256, bool)
_FLOAT_BYTES[list(b"0123456789.eE+-")] = True
_DIGIT_BYTES = np.zeros(256, bool)
_DIGIT_BYTES[list(b"0123456789")] = True
_SIGNED_BYTES = _DIGIT_BYTES.copy()
_SIGNED_BYTES[ord("-")] = True
_TAIL_CODES = np.full(256, _CODES[FieldType.FLOAT], np.int8)
_TAIL_CODES[ord("i")] = _CODES[FieldType.INTEGER]
_TAIL_CODES[ord("u")] = _CODES[FieldType.UNSIGNED]
_HEAD_CODES = np.zeros(256, np.int8)
_HEAD_CODES[list(b"tTfF")] = _CODES[FieldType.BOOLEAN]
_HEAD_CODES[_QUOTE] = _CODES[FieldType.STRING]
_FLOAT_START = np.zeros(256, bool)
_FLOAT_START[list(b"0123456789.-")] = True


@dataclass
class _Lines:
    """Structural delimiters of the candidate lines, flattened, with per-line ranges."""

    buf: np.ndarray
    rows: np.ndarray  # line index (within the input) of each candidate line
    pos: np.ndarray  # byte offsets of structural delimiters, each line ends with its NL
    kind: np.ndarray  # delimiter kind codes, parallel to pos
    first: np.ndarray  # index into pos of each line's first delimiter
    count: np.ndarray  # number of delimiters of each line (including the final NL)
    quotes: np.ndarray  # number of unescaped double quotes in each line
    escapes: np.ndarray  # whether each line holds a backslash (values need unescaping)


def _decode_fast(rows: np.ndarray, ctx: _Context) -> np.ndarray:
    """Decode candidate lines vectorized; return the line indices left to the exact parser."""
    lines, slow = _tokenize(rows, ctx)
    for count in np.flatnonzero(np.bincount(lines.count)):
        members = np.flatnonzero(lines.count == count)
        slow.append(_decode_shape_groups(lines, members, int(count), ctx))
    return np.concatenate(slow) if slow else np.empty(0, np.int64)


def _tokenize(rows: np.ndarray, ctx: _Context) -> tuple[_Lines, list[np.ndarray]]:
    """Find structural delimiters; lines with an odd number of quotes go slow.

    A delimiter after an odd run of backslashes is escaped (not structural), and
    so is a quote inside a string. Everything here is a pass over the delimiter
    array with small dtypes; the quote parity is one uint8 cumulative sum (only
    its low bit matters).
    """
    buf = np.frombuffer(ctx.raw + bytes(_PADDING), np.uint8)  # see `_byte_matrix`
    pos, kind = _delimiters(ctx.raw)
    # Windows end right after their last line's text: close that line here.
    pos = np.append(pos, len(ctx.raw))
    kind = np.append(kind, np.uint8(_K_NL))
    if len(rows) == len(ctx.starts) and b'"' not in ctx.raw and b"\\" not in ctx.raw:
        return _plain_lines(buf, pos, kind), []
    n_lines = len(ctx.starts)
    newline_at = np.flatnonzero(kind == _K_NL)
    is_backslash = kind == _K_BSLASH
    escapes = np.zeros(n_lines, bool)
    keep = (kind != _K_QUOTE) & ~is_backslash
    is_quote = kind == _K_QUOTE
    if b"\\" in ctx.raw:
        escaped = _escaped(pos, kind, is_backslash)
        keep &= ~escaped
        is_quote &= ~escaped
        escapes[np.searchsorted(newline_at, np.flatnonzero(is_backslash))] = True
    quote_at = np.flatnonzero(is_quote)
    quotes = np.bincount(np.searchsorted(newline_at, quote_at), minlength=n_lines)
    odd = quotes % 2 == 1
    bad = odd.copy()
    if quote_at.size:
        is_quote[newline_at[odd]] = True  # an odd line must not flip the lines after it
        inside = np.cumsum(is_quote, dtype=np.uint8) & np.uint8(1)
        keep &= (inside == 0) | (kind == _K_NL)
    good = np.zeros(n_lines, bool)
    good[rows] = True
    good &= ~bad
    if not good.all():
        keep &= ~_cover_lines(np.flatnonzero(~good), newline_at, len(pos))
    pos, kind = pos[keep], kind[keep]
    lines = _plain_lines(buf, pos, kind)
    fast_rows = np.flatnonzero(good)
    lines.rows, lines.quotes, lines.escapes = fast_rows, quotes[fast_rows], escapes[fast_rows]
    return lines, [rows[~good[rows]]]


def _escaped(pos: np.ndarray, kind: np.ndarray, is_backslash: np.ndarray) -> np.ndarray:
    """Delimiters preceded by an odd run of backslashes (newlines are never escaped)."""
    after_backslash = np.zeros(len(pos), bool)
    after_backslash[1:] = is_backslash[:-1] & (np.diff(pos) == 1)
    run_start = np.where(is_backslash & ~after_backslash, pos, -1)
    np.maximum.accumulate(run_start, out=run_start)
    escaped = np.zeros(len(pos), bool)
    odd_run = (pos[1:] - run_start[:-1]) % 2 == 1
    escaped[1:] = after_backslash[1:] & ~is_backslash[1:] & odd_run
    return escaped & (kind != _K_NL)


def _cover_lines(lines: np.ndarray, newline_at: np.ndarray, size: int) -> np.ndarray:
    """Mask over the delimiter array that is True on the delimiters of `lines`."""
    first = np.where(lines > 0, newline_at[np.maximum(lines - 1, 0)] + 1, 0)
    edges = np.zeros(size + 1, np.int8)
    edges[first] += 1
    edges[newline_at[lines] + 1] -= 1
    return np.cumsum(edges[:-1], dtype=np.int8) > 0


def _plain_lines(buf: np.ndarray, pos: np.ndarray, kind: np.ndarray) -> _Lines:
    """The common case: every line is a candidate and nothing is quoted or escaped."""
    newline_at = np.flatnonzero(kind == _K_NL)
    count = np.diff(newline_at, prepend=-1)
    first = newline_at - count + 1
    rows = np.arange(len(newline_at))
    none = np.zeros(len(rows), np.int64)
    return _Lines(buf, rows, pos, kind, first, count, none, none.astype(bool))


def _matrix(values: np.ndarray, first: np.ndarray, count: int) -> np.ndarray:
    """values[first[i] + j] as an (n x count) matrix; a free reshape when the rows are
    consecutive runs covering all of `values` (the homogeneous common case)."""
    n = len(first)
    if n and len(values) == n * count and first[0] == 0 and first[-1] == (n - 1) * count:
        return values.reshape(n, count)
    return values[first[:, None] + np.arange(count)]


@dataclass(frozen=True)
class _Shape:
    """Which token of a line plays which role, derived from its delimiter kinds."""

    tags: tuple[tuple[int, int], ...]  # (key token, value token)
    fields: tuple[tuple[int, int], ...]
    timestamp: int | None

    @classmethod
    def parse(cls, kinds: tuple[int, ...]) -> _Shape | None:
        """Token 0 is the measurement, token j starts after delimiter j-1; None if invalid."""
        tags: list[tuple[int, int]] = []
        fields: list[tuple[int, int]] = []
        i, n = 0, len(kinds) - 1  # the last delimiter is the newline
        while i + 1 < n and kinds[i] == _K_COMMA and kinds[i + 1] == _K_EQ:
            tags.append((i + 1, i + 2))
            i += 2
        sep = _K_SP
        while i + 1 < n and kinds[i] == sep and kinds[i + 1] == _K_EQ:
            fields.append((i + 1, i + 2))
            i += 2
            sep = _K_COMMA
        timestamp = None
        if i < n and kinds[i] == _K_SP:
            timestamp = i + 1
            i += 1
        if not fields or i != n:
            return None
        return cls(tuple(tags), tuple(fields), timestamp)

    def key_tokens(self) -> list[int]:
        return [0, *(k for k, _ in self.tags), *(k for k, _ in self.fields)]


def _decode_shape_groups(
    lines: _Lines, members: np.ndarray, count: int, ctx: _Context
) -> np.ndarray:
    """Decode lines with `count` delimiters, grouped by delimiter shape and key bytes."""
    kinds = _matrix(lines.kind, lines.first[members], count)
    slow: list[np.ndarray] = []
    pending = np.arange(len(members))
    while pending.size:
        same = (kinds[pending] == kinds[pending[0]]).all(axis=1)
        if same.all():
            group, pending = pending, pending[:0]
        else:
            group, pending = pending[same], pending[~same]
        shape = _Shape.parse(tuple(int(k) for k in kinds[group[0]]))
        rows = members if len(group) == len(members) else members[group]
        if shape is None:
            slow.append(lines.rows[rows])
            continue
        tokens = _Tokens.of(lines, rows, count, ctx)
        slow.append(_decode_templates(lines, tokens, shape, ctx))
    return np.concatenate(slow)


@dataclass
class _Tokens:
    """Byte ranges of the tokens of n lines sharing a shape, computed column by column
    from the (n x count) delimiter matrix (usually a free view of the delimiter array)."""

    delims: np.ndarray
    line_starts: np.ndarray
    line_ends: np.ndarray
    line_index: np.ndarray  # the lines' indices within the input
    rows: np.ndarray  # the lines' indices within `_Lines`
    _starts: dict[int, np.ndarray] = field(default_factory=dict)
    _lengths: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, lines: _Lines, rows: np.ndarray, count: int, ctx: _Context) -> _Tokens:
        index = lines.rows[rows]
        delims = _matrix(lines.pos, lines.first[rows], count)
        return cls(delims, ctx.starts[index], ctx.ends[index], index, rows)

    def __len__(self) -> int:
        return len(self.rows)

    def start(self, token: int) -> np.ndarray:
        if token == 0:
            return self.line_starts
        if token not in self._starts:
            self._starts[token] = self.delims[:, token - 1] + 1
        return self._starts[token]

    def end(self, token: int) -> np.ndarray:
        last = self.delims.shape[1] - 1
        return self.line_ends if token == last else self.delims[:, token]

    def length(self, token: int) -> np.ndarray:
        if token not in self._lengths:
            self._lengths[token] = self.end(token) - self.start(token)
        return self._lengths[token]

    def text(self, raw: bytes, token: int) -> str:
        """The token's text in the first line (keys are identical across a template)."""
        return raw[int(self.start(token)[0]) : int(self.end(token)[0])].decode("utf-8")

    def select(self, mask: np.ndarray) -> _Tokens:
        return _Tokens(
            self.delims[mask],
            self.line_starts[mask],
            self.line_ends[mask],
            self.line_index[mask],
            self.rows[mask],
        )


def _decode_templates(lines: _Lines, tokens: _Tokens, shape: _Shape, ctx: _Context) -> np.ndarray:
    """Split a shape group by identical key bytes and decode each template.

    Lines with an empty measurement, key or value go to the exact parser, as do
    lines beyond the first `_MAX_TEMPLATES` key sets.
    """
    complete = np.ones(len(tokens), bool)
    for token in range(tokens.delims.shape[1]):
        if token != shape.timestamp:
            complete &= tokens.length(token) > 0
    slow = [tokens.line_index[~complete]]
    if not complete.all():
        tokens = tokens.select(complete)
    keys = shape.key_tokens()
    for _ in range(_MAX_TEMPLATES):
        if not len(tokens):
            break
        same = _same_keys(lines.buf, tokens, keys)
        if same.all():
            slow.append(_decode_template(lines, tokens, shape, ctx))
            return np.concatenate(slow)
        slow.append(_decode_template(lines, tokens.select(same), shape, ctx))
        tokens = tokens.select(~same)
    slow.append(tokens.line_index)
    return np.concatenate(slow)


def _same_keys(buf: np.ndarray, tokens: _Tokens, keys: list[int]) -> np.ndarray:
    """Rows whose key tokens have exactly the bytes of the first row's."""
    same = np.ones(len(tokens), bool)
    for token in keys:
        starts = tokens.start(token)
        size = int(tokens.end(token)[0] - starts[0])
        same &= tokens.length(token) == size
        if size:
            words = _words(buf, starts, size)
            same &= (words == words[0]).all(axis=1)
    return same


def _words(buf: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """The `size` bytes at each start as little-endian uint64 words (n x ceil(size/8)),
    bytes past `size` zeroed: comparing words compares 8 bytes at once."""
    count = -(-size // 8)
    words = _byte_matrix(buf, starts, count * 8).view("<u8").copy()
    spare = count * 8 - size
    if spare:
        words[:, -1] &= np.uint64((1 << (8 * (8 - spare))) - 1)
    return words


_PADDING = 64
"""Zero bytes appended to the buffer so fixed-width reads near its end stay inside."""


def _byte_matrix(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The (rows x width) bytes starting at `starts`, gathered row by row through a
    sliding-window view (much cheaper than an index matrix)."""
    if len(starts) and int(starts.max()) + width > len(buf):
        starts = np.minimum(starts, len(buf) - width)
    return sliding_window_view(buf, width)[starts]


def _decode_template(lines: _Lines, tokens: _Tokens, shape: _Shape, ctx: _Context) -> np.ndarray:
    """Build the intermediate frame of lines sharing measurement and keys; return the
    lines whose values need the exact parser."""
    measurement = _MEASUREMENT_ESCAPE.sub(r"\1", tokens.text(ctx.raw, 0))
    tag_keys = [_KEY_ESCAPE.sub(r"\1", tokens.text(ctx.raw, k)) for k, _ in shape.tags]
    field_keys = [_KEY_ESCAPE.sub(r"\1", tokens.text(ctx.raw, k)) for k, _ in shape.fields]
    escapes = bool(lines.escapes[tokens.rows].any())
    names = [*tag_keys, *field_keys]
    if len(set(names)) != len(names) or RESERVED_KEYS.intersection(names):
        return tokens.line_index
    n = len(tokens)
    buf = lines.buf
    columns: dict[str, pl.Series] = {
        "_line": pl.Series(tokens.line_index + ctx.first_line, dtype=pl.Int64)
    }
    columns[TIME_COLUMN], problem = _timestamps(buf, tokens, shape, ctx)
    for key, (_, token) in zip(tag_keys, shape.tags, strict=True):
        kid = ctx.key_id(key)
        columns[_code_col(kid)] = pl.repeat(_TAG, n, dtype=pl.Int8, eager=True)
        values = _strings(buf, tokens.start(token), tokens.end(token))
        if escapes:
            values = values.str.replace_all(r"\\([,= \\])", "${1}")
        columns[_value_col(kid, _TAG)] = values
    string_tokens = np.zeros(n, np.int32)
    for key, (_, token) in zip(field_keys, shape.fields, strict=True):
        kid = ctx.key_id(key)
        codes, typed, bad, strings = _field_column(buf, tokens.start(token), tokens.end(token))
        columns[_code_col(kid)] = pl.Series(codes, dtype=pl.Int8)
        for code, series in typed.items():
            if escapes and code == _CODES[FieldType.STRING]:
                series = series.str.replace_all(r'\\(["\\])', "${1}")
            columns[_value_col(kid, code)] = series
        problem |= bad
        string_tokens += strings
    problem |= lines.quotes[tokens.rows] != 2 * string_tokens
    frame = pl.DataFrame(columns)
    ctx.add_frame(measurement, frame.filter(pl.Series(~problem)) if problem.any() else frame)
    return tokens.line_index[problem]


def _ragged(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate byte ranges into one buffer; returns it and Arrow-style offsets.

    Equal-length ranges are one sliding-window gather. Otherwise the gather index
    is one cumulative sum of step sizes (1 inside a range, a jump between ranges),
    which keeps temporaries small.
    """
    lengths = ends - starts
    size = len(starts)
    if size and lengths.min() == lengths.max():
        width = int(lengths[0])
        offsets = np.arange(size + 1, dtype=np.int64) * width
        data = _byte_matrix(buf, starts, width).ravel() if width else np.empty(0, np.uint8)
        return data, offsets
    offsets = np.zeros(size + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    steps = np.ones(total, np.int32 if len(buf) < 2**31 else np.int64)
    if total:
        nonempty = np.flatnonzero(lengths > 0) if lengths.min() == 0 else np.arange(size)
        steps[offsets[nonempty[1:]]] = starts[nonempty[1:]] - ends[nonempty[:-1]] + 1
        steps[0] = starts[nonempty[0]]
        np.cumsum(steps, out=steps)
    return buf[steps], offsets


def _strings(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    cut: tuple[np.ndarray, np.ndarray] | None = None,
) -> pl.Series:
    """A Polars string column cut out of the buffer (input already checked to be UTF-8)."""
    data, offsets = _ragged(buf, starts, ends) if cut is None else cut
    if offsets[-1] < 2**31:
        array = pa.StringArray.from_buffers(
            len(starts), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    else:
        array = pa.LargeStringArray.from_buffers(
            len(starts), pa.py_buffer(offsets), pa.py_buffer(data)
        )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series


def _parse_floats(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """Floats via Polars' parser, flagging values it rejects or that line protocol spells
    differently (only digits . e E + -, first byte a digit, '.' or '-', finite)."""
    cut = _ragged(buf, starts, ends)
    values = _strings(buf, starts, ends, cut).cast(pl.Float64, strict=False)
    bad = values.is_null().to_numpy() | ~_FLOAT_START[buf[starts]]
    wrong = np.flatnonzero(~_FLOAT_BYTES[cut[0]])
    if wrong.size:
        bad[np.searchsorted(cut[1], wrong, side="right") - 1] = True
    bad |= values.is_infinite().fill_null(False).to_numpy()
    return values, bad


def _parse_integers(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers digit by digit in NumPy (uint64 accumulator, so 19-20 digit
    values are checked for overflow exactly); returns int64/uint64 values and bad flags."""
    negative = (buf[starts] == ord("-")) if signed else np.zeros(len(starts), bool)
    first = starts + negative
    lengths = ends - first
    fixed = len(lengths) and lengths.min() == lengths.max() and 0 < lengths[0] <= 19
    if fixed and not negative.any():
        return _parse_fixed_width(buf, first, int(lengths[0]), signed)
    if len(lengths) and lengths.max() <= 18:
        return _parse_short_integers(buf, starts, ends, signed)
    bad = (lengths <= 0) | (lengths > 20)
    acc = np.zeros(len(starts), np.uint64)
    last = len(buf) - 1
    for offset in range(int(lengths.max(initial=0))):
        active = offset < lengths
        digit = buf[np.minimum(first + offset, last)].astype(np.int16) - ord("0")
        bad |= active & ((digit < 0) | (digit > 9))
        big = active & (acc > np.uint64((2**64 - 1 - 9) // 10))
        bad |= big
        stepped = acc * np.uint64(10) + np.clip(digit, 0, 9).astype(np.uint64)
        acc = np.where(active & ~big, stepped, acc)
    if not signed:
        return acc, bad
    bad |= acc > np.uint64(2**63 - 1) + negative.astype(np.uint64)
    magnitude = acc.astype(np.int64)  # 2**63 wraps to -2**63, which is right when negated
    values = np.where(negative, -magnitude, magnitude)
    return values, bad


def _field_column(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, dict[int, pl.Series], np.ndarray, np.ndarray]:
    """Type codes, typed value columns, problem flags and string flags of one field token."""
    head, tail = buf[starts], buf[ends - 1]
    head_codes = _HEAD_CODES[head]
    codes = np.where(head_codes > 0, head_codes, _TAIL_CODES[tail])
    is_string = head == _QUOTE
    bad = is_string & ((tail != _QUOTE) | (ends - starts < 2))
    values: dict[int, pl.Series] = {}
    present = np.flatnonzero(np.bincount(codes, minlength=len(_POLARS_TYPES)))
    if len(present) == 1:  # the usual case: one type, no subsetting
        series, wrong = _typed_values(buf, starts, ends, int(present[0]))
        return codes, {int(present[0]): series}, bad | wrong, is_string
    for code in present:
        where = np.flatnonzero(codes == code)
        series, wrong = _typed_values(buf, starts[where], ends[where], int(code))
        bad[where[wrong]] = True
        values[int(code)] = _scatter(series, where, len(starts))
    return codes, values, bad, is_string


def _parse_short_integers(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Integers of at most 18 digits (no overflow possible) via Polars' parser, flagging
    spellings line protocol does not allow (a '+' sign, anything but digits and a '-')."""
    cut = _ragged(buf, starts, ends)
    dtype = pl.Int64() if signed else pl.UInt64()
    values = _strings(buf, starts, ends, cut).cast(dtype, strict=False)
    allowed = _SIGNED_BYTES if signed else _DIGIT_BYTES
    bad = values.is_null().to_numpy() | (buf[starts] == ord("+"))
    wrong = np.flatnonzero(~allowed[cut[0]])
    if wrong.size:
        bad[np.searchsorted(cut[1], wrong, side="right") - 1] = True
    return values.fill_null(0).to_numpy(), bad


_POWERS = np.array([10**i for i in range(19, -1, -1)], np.uint64)


def _parse_fixed_width(
    buf: np.ndarray, first: np.ndarray, width: int, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers that all have `width` (<= 19) digits: fits uint64 exactly.

    Digits are gathered as a byte matrix and combined with a dot product by powers of
    ten, a block of rows at a time.
    """
    digits = _byte_matrix(buf, first, width) - np.uint8(ord("0"))
    bad = (digits > 9).any(axis=1)
    acc = digits.astype(np.uint64) @ _POWERS[-width:]
    if not signed:
        return acc, bad
    bad |= acc > np.uint64(2**63 - 1)
    return acc.astype(np.int64), bad


def _parse_booleans(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Match the ten spellings InfluxDB accepts (t, True, FALSE, ...) byte by byte."""
    lengths = ends - starts
    truth = np.zeros(len(starts), bool)
    known = np.zeros(len(starts), bool)
    words = _byte_matrix(buf, starts, 8).view("<u8")[:, 0]
    for spelling in (*_BOOL_TRUE, *_BOOL_FALSE):
        size = len(spelling)
        mask = np.uint64((1 << (8 * size)) - 1)
        word = np.uint64(int.from_bytes(spelling.encode(), "little"))
        hit = (lengths == size) & ((words & mask) == word)
        known |= hit
        if spelling in _BOOL_TRUE:
            truth |= hit
    return truth, ~known


def _typed_values(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, code: int
) -> tuple[pl.Series, np.ndarray]:
    """Values of one field type cut from the buffer, with per-value problem flags."""
    ftype = _TYPES[code]
    if ftype is FieldType.STRING:
        inner_end = np.maximum(ends - 1, starts + 1)
        return _strings(buf, starts + 1, inner_end), np.zeros(len(starts), bool)
    if ftype is FieldType.BOOLEAN:
        truth, bad = _parse_booleans(buf, starts, ends)
        return pl.Series(truth, dtype=pl.Boolean), bad
    if ftype is FieldType.FLOAT:
        return _parse_floats(buf, starts, ends)
    signed = ftype is FieldType.INTEGER
    values, bad = _parse_integers(buf, starts, ends - 1, signed)
    return pl.Series(values, dtype=pl.Int64 if signed else pl.UInt64), bad


def _scatter(series: pl.Series, where: np.ndarray, size: int) -> pl.Series:
    """A full-length column holding `series` at `where` and null elsewhere."""
    if len(where) == size:
        return series
    full = pl.repeat(None, size, dtype=series.dtype, eager=True)
    return full.scatter(where, series)


def _timestamps(
    buf: np.ndarray, tokens: _Tokens, shape: _Shape, ctx: _Context
) -> tuple[pl.Series, np.ndarray]:
    """Nanosecond times (default where absent) and flags for unreadable/out-of-range ones."""
    n = len(tokens)
    if shape.timestamp is None:
        return pl.repeat(ctx.default_time_ns, n, dtype=pl.Int64, eager=True), np.zeros(n, bool)
    token = shape.timestamp
    values, bad = _parse_integers(buf, tokens.start(token), tokens.end(token), signed=True)
    low, high = ctx.precision.bounds()
    bad |= (values < low) | (values > high)
    if bad.any():
        values = np.where(bad, 0, values)
    if ctx.precision is not Precision.NS:
        values = values * ctx.precision.multiplier
    return pl.Series(values, dtype=pl.Int64), bad
