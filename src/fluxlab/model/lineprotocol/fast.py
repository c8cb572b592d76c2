"""The vectorized parser: NumPy over the raw bytes of many lines at once, grouping lines by
delimiter shape and key bytes and cutting typed value columns straight out of the buffer.
It is the hot path for every plain line and by far the largest part of the codec; whatever
it cannot decode exactly it returns as line indices for the slow path."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from fluxlab.model.lineprotocol.cut import _Bytes
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
from fluxlab.model.lineprotocol.unescape import _Runs
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

_TAIL_CODES = np.full(256, _CODES[FieldType.FLOAT], np.int8)
_TAIL_CODES[ord("i")] = _CODES[FieldType.INTEGER]
_TAIL_CODES[ord("u")] = _CODES[FieldType.UNSIGNED]
_HEAD_CODES = np.zeros(256, np.int8)
_HEAD_CODES[list(b"tTfF")] = _CODES[FieldType.BOOLEAN]
_HEAD_CODES[_QUOTE] = _CODES[FieldType.STRING]
_FLOAT_START = np.zeros(256, bool)
_FLOAT_START[list(b"0123456789.-")] = True


_Cut = Callable[[np.ndarray, np.ndarray], pl.Series]
"""Cuts string values out of a window given their byte ranges."""


@dataclass
class _Lines:
    """Structural delimiters of the candidate lines, flattened, with per-line ranges."""

    src: _Bytes
    rows: np.ndarray  # line index (within the input) of each candidate line
    pos: np.ndarray  # byte offsets of structural delimiters, each line ends with its NL
    kind: np.ndarray  # delimiter kind codes, parallel to pos
    first: np.ndarray  # index into pos of each line's first delimiter
    count: np.ndarray  # number of delimiters of each line (including the final NL)
    quotes: np.ndarray  # number of unescaped double quotes in each line
    escapes: np.ndarray  # whether each line holds a backslash (values need unescaping)
    clean: _Bytes | None = None  # the window without its escaping backslashes
    removed: np.ndarray | None = None  # sorted byte offsets of those backslashes

    def unescaped(self, starts: np.ndarray, ends: np.ndarray) -> pl.Series:
        """String values with escapes resolved: cut from the clean buffer."""
        if self.clean is None or self.removed is None:
            return self.src.strings(starts, ends)
        shift = self.removed
        return self.clean.strings(
            starts - np.searchsorted(shift, starts), ends - np.searchsorted(shift, ends)
        )


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
    src, pos, kind = _window_scan(ctx)
    has_backslash = b"\\" in ctx.raw
    if len(rows) == len(ctx.starts) and not has_backslash and b'"' not in ctx.raw:
        return _plain_lines(src, pos, kind), []
    n_lines = len(ctx.starts)
    newline_at = np.flatnonzero(kind == _K_NL)
    escapes = np.zeros(n_lines, bool)
    is_quote = kind == _K_QUOTE
    drop = kind == _K_BSLASH  # a backslash is never structural
    runs = None
    if has_backslash:
        runs = _Runs.of(pos, np.flatnonzero(drop))
        escaped_at = runs.escaped(kind)
        is_quote[escaped_at] = False
        drop[escaped_at] = True
        escapes[np.searchsorted(newline_at, runs.at)] = True
    quote_at = np.flatnonzero(is_quote)
    quotes = np.bincount(np.searchsorted(newline_at, quote_at), minlength=n_lines)
    odd = (quotes & 1).astype(bool)
    inside = None
    if quote_at.size:
        drop[quote_at] = True
        is_quote[newline_at[odd]] = True  # an odd line must not flip the lines after it
        inside = np.cumsum(is_quote, dtype=np.uint8)
        inside &= np.uint8(1)
        inside[newline_at] = 0  # newlines always end a line
        drop |= inside.view(np.bool_)
    good = np.zeros(n_lines, bool)
    good[rows] = True
    good &= ~odd
    if not good.all():
        drop |= _cover_lines(np.flatnonzero(~good), newline_at, len(pos))
    keep = ~drop
    lines = _plain_lines(src, pos[keep], kind[keep])
    fast_rows = np.flatnonzero(good)
    lines.rows, lines.quotes, lines.escapes = fast_rows, quotes[fast_rows], escapes[fast_rows]
    if runs is not None and runs.at.size:
        _add_clean_buffer(lines, runs, pos, kind, inside, newline_at, n_lines)
    return lines, [rows[~good[rows]]]


def _window_scan(ctx: _Context) -> tuple[_Bytes, np.ndarray, np.ndarray]:
    """The window's bytes and delimiters up to its last line's end, closed by a newline
    there: taken from the decode's own scan when there is one (usually no copy)."""
    size = ctx.size
    if ctx.scan is None:
        src = _Bytes.of(ctx.raw)
        return (src, *_delimiters(src.buf, size))
    scan = ctx.scan
    cut = int(np.searchsorted(scan.pos, size))
    if cut < len(scan.pos) and scan.pos[cut] == size and scan.kind[cut] == _K_NL:
        return scan.src, scan.pos[: cut + 1], scan.kind[: cut + 1]
    pos = np.append(scan.pos[:cut], size)
    return scan.src, pos, np.append(scan.kind[:cut], np.uint8(_K_NL))


def _add_clean_buffer(
    lines: _Lines,
    runs: _Runs,
    pos: np.ndarray,
    kind: np.ndarray,
    inside: np.ndarray | None,
    newline_at: np.ndarray,
    n_lines: int,
) -> None:
    """Give `lines` the window without its escaping backslashes (see `unescape`).

    A backslash is in the measurement when it comes before its line's first
    structural delimiter, and in a string when the quote parity says so.
    """
    measurement_end = np.zeros(n_lines, np.int64)
    measurement_end[lines.rows] = lines.pos[lines.first]
    line_of = np.searchsorted(newline_at, runs.at)
    in_measurement = pos[runs.at] < measurement_end[line_of]
    in_string = None if inside is None else inside[runs.at].view(np.bool_)
    removed = runs.removable(pos, kind, in_string, in_measurement)
    if removed.size:
        lines.clean, lines.removed = lines.src.without(removed), removed


def _cover_lines(lines: np.ndarray, newline_at: np.ndarray, size: int) -> np.ndarray:
    """Mask over the delimiter array that is True on the delimiters of `lines`."""
    first = np.where(lines > 0, newline_at[np.maximum(lines - 1, 0)] + 1, 0)
    edges = np.zeros(size + 1, np.int8)
    edges[first] += 1
    edges[newline_at[lines] + 1] -= 1
    return np.cumsum(edges[:-1], dtype=np.int8) > 0


def _plain_lines(src: _Bytes, pos: np.ndarray, kind: np.ndarray) -> _Lines:
    """The common case: every line is a candidate and nothing is quoted or escaped."""
    newline_at = np.flatnonzero(kind == _K_NL)
    count = np.diff(newline_at, prepend=-1)
    first = newline_at - count + 1
    rows = np.arange(len(newline_at))
    none = np.zeros(len(rows), np.int64)
    return _Lines(src, rows, pos, kind, first, count, none, none.astype(bool))


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
    complete = _complete(tokens, shape)
    slow = [tokens.line_index[~complete]]
    if not complete.all():
        tokens = tokens.select(complete)
    keys = shape.key_tokens()
    for _ in range(_MAX_TEMPLATES):
        if not len(tokens):
            break
        same = _same_keys(lines.src, tokens, keys)
        if same.all():
            slow.append(_decode_template(lines, tokens, shape, ctx))
            return np.concatenate(slow)
        slow.append(_decode_template(lines, tokens.select(same), shape, ctx))
        tokens = tokens.select(~same)
    slow.append(tokens.line_index)
    return np.concatenate(slow)


def _complete(tokens: _Tokens, shape: _Shape) -> np.ndarray:
    """Lines whose tokens are all non-empty (the timestamp, always last, is checked when
    parsed): one difference over the delimiter matrix rather than a pass per token."""
    delims = tokens.delims
    last = delims.shape[1] - 1  # the last token ends at the line end, not at its newline
    if last == 0:
        return tokens.line_ends > tokens.line_starts
    complete = delims[:, 0] > tokens.line_starts
    if last > 1:
        complete &= (np.diff(delims[:, :last], axis=1) > 1).all(axis=1)
    if shape.timestamp != last:
        complete &= tokens.line_ends > delims[:, last - 1] + 1
    return complete


def _same_keys(src: _Bytes, tokens: _Tokens, keys: list[int]) -> np.ndarray:
    """Rows whose key tokens have exactly the bytes of the first row's."""
    same = np.ones(len(tokens), bool)
    for token in keys:
        starts = tokens.start(token)
        size = int(tokens.end(token)[0] - starts[0])
        same &= tokens.length(token) == size
        if size:
            for word in src.words(starts, size):
                same &= word == word[0]
    return same


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
    src = lines.src
    cut_strings = lines.unescaped if escapes else src.strings
    columns: dict[str, pl.Series] = {
        "_line": pl.Series(tokens.line_index + ctx.first_line, dtype=pl.Int64)
    }
    columns[TIME_COLUMN], problem = _timestamps(src, tokens, shape, ctx)
    for key, (_, token) in zip(tag_keys, shape.tags, strict=True):
        kid = ctx.key_id(key)
        columns[_code_col(kid)] = pl.repeat(_TAG, n, dtype=pl.Int8, eager=True)
        columns[_value_col(kid, _TAG)] = cut_strings(tokens.start(token), tokens.end(token))
    string_tokens = np.zeros(n, np.int32)
    for key, (_, token) in zip(field_keys, shape.fields, strict=True):
        kid = ctx.key_id(key)
        codes, typed, bad, strings = _field_column(
            src, tokens.start(token), tokens.end(token), cut_strings
        )
        columns[_code_col(kid)] = pl.Series(codes, dtype=pl.Int8)
        for code, series in typed.items():
            columns[_value_col(kid, code)] = series
        problem |= bad
        string_tokens += strings
    problem |= lines.quotes[tokens.rows] != 2 * string_tokens
    frame = pl.DataFrame(columns)
    ctx.add_frame(measurement, frame.filter(pl.Series(~problem)) if problem.any() else frame)
    return tokens.line_index[problem]


def _field_column(
    src: _Bytes, starts: np.ndarray, ends: np.ndarray, cut_strings: _Cut
) -> tuple[np.ndarray, dict[int, pl.Series], np.ndarray, np.ndarray]:
    """Type codes, typed value columns, problem flags and string flags of one field token
    (`cut_strings` cuts string values, resolving escapes where the lines have any)."""
    head, tail = src.buf[starts], src.buf[ends - 1]
    head_codes = _HEAD_CODES[head]
    codes = np.where(head_codes > 0, head_codes, _TAIL_CODES[tail])
    is_string = head == _QUOTE
    bad = is_string & ((tail != _QUOTE) | (ends - starts < 2))
    values: dict[int, pl.Series] = {}
    present = np.flatnonzero(np.bincount(codes, minlength=len(_POLARS_TYPES)))
    if len(present) == 1:  # the usual case: one type, no subsetting
        series, wrong = _typed_values(src, starts, ends, int(present[0]), cut_strings)
        return codes, {int(present[0]): series}, bad | wrong, is_string
    for code in present:
        where = np.flatnonzero(codes == code)
        series, wrong = _typed_values(src, starts[where], ends[where], int(code), cut_strings)
        bad[where[wrong]] = True
        values[int(code)] = _scatter(series, where, len(starts))
    return codes, values, bad, is_string


def _parse_floats(
    src: _Bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """Floats via Polars' parser. It accepts what line protocol does plus a leading '+',
    inf/infinity and nan (any case): the first byte must be a digit, '.' or '-', and
    the value finite, so those spellings are flagged (the exact parser rejects them)."""
    values = src.strings(starts, ends).cast(pl.Float64, strict=False)
    bad = ~values.is_finite().fill_null(False).to_numpy() | ~_FLOAT_START[src.buf[starts]]
    return values, bad


def _parse_integers(
    src: _Bytes, starts: np.ndarray, ends: np.ndarray, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers via Polars' parser (exact, null on overflow); it also takes a
    leading '+', which line protocol does not, so that is flagged."""
    dtype = pl.Int64() if signed else pl.UInt64()
    values = src.strings(starts, ends).cast(dtype, strict=False)
    bad = values.is_null().to_numpy() | (src.buf[starts] == ord("+")) | (ends <= starts)
    return values.fill_null(0).to_numpy(), bad


def _parse_booleans(
    src: _Bytes, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Match the ten spellings InfluxDB accepts (t, True, FALSE, ...) byte by byte."""
    lengths = ends - starts
    truth = np.zeros(len(starts), bool)
    known = np.zeros(len(starts), bool)
    words = src.word(starts)
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
    src: _Bytes, starts: np.ndarray, ends: np.ndarray, code: int, cut_strings: _Cut
) -> tuple[pl.Series, np.ndarray]:
    """Values of one field type cut from the buffer, with per-value problem flags."""
    ftype = _TYPES[code]
    if ftype is FieldType.STRING:
        inner_end = np.maximum(ends - 1, starts + 1)
        return cut_strings(starts + 1, inner_end), np.zeros(len(starts), bool)
    if ftype is FieldType.BOOLEAN:
        truth, bad = _parse_booleans(src, starts, ends)
        return pl.Series(truth, dtype=pl.Boolean), bad
    if ftype is FieldType.FLOAT:
        return _parse_floats(src, starts, ends)
    signed = ftype is FieldType.INTEGER
    values, bad = _parse_integers(src, starts, ends - 1, signed)
    return pl.Series(values, dtype=pl.Int64 if signed else pl.UInt64), bad

def _scatter(series: pl.Series, where: np.ndarray, size: int) -> pl.Series:
    """A full-length column holding `series` at `where` and null elsewhere."""
    if len(where) == size:
        return series
    full = pl.repeat(None, size, dtype=series.dtype, eager=True)
    return full.scatter(where, series)


def _timestamps(
    src: _Bytes, tokens: _Tokens, shape: _Shape, ctx: _Context
) -> tuple[pl.Series, np.ndarray]:
    """Nanosecond times (default where absent) and flags for unreadable/out-of-range ones."""
    n = len(tokens)
    if shape.timestamp is None:
        return pl.repeat(ctx.default_time_ns, n, dtype=pl.Int64, eager=True), np.zeros(n, bool)
    token = shape.timestamp
    values, bad = _parse_integers(src, tokens.start(token), tokens.end(token), signed=True)
    low, high = ctx.precision.bounds()
    bad |= (values < low) | (values > high)
    if bad.any():
        values = np.where(bad, 0, values)
    if ctx.precision is not Precision.NS:
        values = values * ctx.precision.multiplier
    return pl.Series(values, dtype=pl.Int64), bad
