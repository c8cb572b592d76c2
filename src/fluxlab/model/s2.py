"""S2 cells, vectorized over NumPy arrays.

Why our own: the maintained Python S2 packages (s2sphere, s2cell, the s2geometry
bindings) convert one point per Python call — a few hundred thousand points per second
at best — while ingest tags millions of rows. The algorithm is small and fixed by the
S2 specification, so it is written here once over arrays: project to a cube face,
apply S2's quadratic (u, v) -> (s, t) transform, quantize to 30-bit (i, j) and
interleave the bits along the Hilbert curve with S2's 4-bit lookup tables. Only the
table steps a level needs are run: level 10 needs 3 of the 8.

Cell ids are uint64 (face in the top 3 bits, then 2 bits per level, then a 1 marker
bit); a token is the id in lowercase hex with trailing zeros removed ("X" for 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

MAX_LEVEL = 30
_LOOKUP_BITS = 4
_SWAP_MASK = 1
_INVERT_MASK = 2
_MAX_SIZE = 1 << MAX_LEVEL
_POS_BITS = 2 * MAX_LEVEL + 1
_BLOCK = 1 << 15
EARTH_RADIUS_KM = 6371.01  # the mean radius S2 and Flux's geo package use

# Hilbert curve sub-cell order for each orientation (canonical, swapped, inverted, both).
_POS_TO_IJ = ((0, 1, 3, 2), (0, 2, 3, 1), (3, 2, 0, 1), (3, 1, 0, 2))
_POS_TO_ORIENTATION = (_SWAP_MASK, 0, 0, _INVERT_MASK | _SWAP_MASK)


class S2Error(ValueError):
    """Invalid input to an S2 function: coordinates out of range, a bad token or level."""


def _build_lookup_tables() -> tuple[np.ndarray, np.ndarray]:
    """S2's tables mapping 4 bits of (i, j) + orientation <-> 8 Hilbert position bits."""
    lookup_pos = np.zeros(1 << (2 * _LOOKUP_BITS + 2), dtype=np.int64)
    lookup_ij = np.zeros(1 << (2 * _LOOKUP_BITS + 2), dtype=np.int64)

    def fill(level: int, i: int, j: int, orig: int, pos: int, orientation: int) -> None:
        if level == _LOOKUP_BITS:
            ij = (i << _LOOKUP_BITS) + j
            lookup_pos[(ij << 2) + orig] = (pos << 2) + orientation
            lookup_ij[(pos << 2) + orig] = (ij << 2) + orientation
            return
        order = _POS_TO_IJ[orientation]
        for index in range(4):
            sub = order[index]
            fill(
                level + 1,
                (i << 1) + (sub >> 1),
                (j << 1) + (sub & 1),
                orig,
                (pos << 2) + index,
                orientation ^ _POS_TO_ORIENTATION[index],
            )

    for orientation in range(4):
        fill(0, 0, 0, orientation, 0, orientation)
    return lookup_pos, lookup_ij


_LOOKUP_POS, _LOOKUP_IJ = _build_lookup_tables()


# ----------------------------------------------------------------------------- validation


def _as_float_array(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    return arr.reshape(-1) if arr.ndim != 1 else arr


def check_level(level: int) -> int:
    if not isinstance(level, int | np.integer) or not 0 <= int(level) <= MAX_LEVEL:
        raise S2Error(f"S2 level must be an integer from 0 to 30, got {level!r}")
    return int(level)


def invalid_coordinates(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Mask of rows whose latitude/longitude cannot be a point (NaN or out of range)."""
    with np.errstate(invalid="ignore"):
        return ~((np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0))


def _require_valid(lat: np.ndarray, lon: np.ndarray, offset: int = 0) -> None:
    bad = invalid_coordinates(lat, lon)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise S2Error(
            f"invalid coordinate at index {offset + k}: "
            f"lat={float(lat[k])}, lon={float(lon[k])} (latitude must be within ±90, longitude ±180)"
        )


# ----------------------------------------------------------------------------- lat/lon -> id


# For each face: which component (x=0, y=1, z=2) and sign give u and v, divided by the
# face's own axis component (S2's face projections).
_U_AXIS = np.array([1, 0, 0, 2, 2, 1])
_U_SIGN = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
_V_AXIS = np.array([2, 2, 1, 1, 0, 0])
_V_SIGN = np.array([1.0, 1.0, -1.0, 1.0, -1.0, -1.0])


def _face_uv(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, ...]:
    """Cube face of each lat/lon point and its face (u, v) coordinates."""
    phi = lat_deg * (np.pi / 180.0)
    theta = lon_deg * (np.pi / 180.0)
    cos_phi = np.cos(phi)
    xyz = np.empty((lat_deg.size, 3), dtype=np.float64)
    np.multiply(np.cos(theta), cos_phi, out=xyz[:, 0])
    np.multiply(np.sin(theta), cos_phi, out=xyz[:, 1])
    np.sin(phi, out=xyz[:, 2])
    ax, ay, az = np.abs(xyz[:, 0]), np.abs(xyz[:, 1]), np.abs(xyz[:, 2])
    # Largest component, ties resolved as S2 does: x if x > y and x > z, else y if
    # y >= x and y > z, else z. Boolean arithmetic is much faster than nested np.where.
    x_wins = (ax > ay) & (ax > az)
    y_wins = (ax <= ay) & (ay > az)
    axis = 2 - 2 * x_wins.astype(np.int64) - y_wins
    rows = np.arange(lat_deg.size)
    flat = xyz.reshape(-1)
    base = rows * 3
    comp = flat[base + axis]
    face = axis + 3 * (comp < 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / comp
        u = _U_SIGN[face] * flat[base + _U_AXIS[face]] * inv
        v = _V_SIGN[face] * flat[base + _V_AXIS[face]] * inv
    return face.astype(np.int64), u, v


def _uv_to_st(u: np.ndarray) -> np.ndarray:
    """S2's quadratic projection, which makes cells of one level similar in area."""
    half = 0.5 * np.sqrt(1 + 3 * np.abs(u))
    return np.where(u >= 0, half, 1 - half)


def _st_to_ij(s: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(_MAX_SIZE * s), 0, _MAX_SIZE - 1).astype(np.int64)


def _face_ij_to_id(face: np.ndarray, i: np.ndarray, j: np.ndarray, level: int) -> np.ndarray:
    """Cell id at `level` of leaf coordinates (i, j) on `face` (Hilbert interleave)."""
    n = face.astype(np.uint64) << np.uint64(_POS_BITS - 1)
    bits = face & _SWAP_MASK
    mask = (1 << _LOOKUP_BITS) - 1
    # Step k consumes bits [4k, 4k+4) of i and j; a level needs the top `level` bits only.
    lowest_step = max(0, (MAX_LEVEL - level) // _LOOKUP_BITS) if level < MAX_LEVEL else 0
    for k in range(7, lowest_step - 1, -1):
        bits = bits + (((i >> (k * _LOOKUP_BITS)) & mask) << (_LOOKUP_BITS + 2))
        bits = bits + (((j >> (k * _LOOKUP_BITS)) & mask) << 2)
        bits = _LOOKUP_POS[bits]
        n |= (bits >> 2).astype(np.uint64) << np.uint64(k * 2 * _LOOKUP_BITS)
        bits = bits & (_SWAP_MASK | _INVERT_MASK)
    leaf = n * np.uint64(2) + np.uint64(1)
    return parent(leaf, level)


def cell_ids(lat: object, lon: object, level: int = MAX_LEVEL) -> np.ndarray:
    """S2 cell ids (uint64) at `level` of points given in degrees."""
    level = check_level(level)
    lat_a, lon_a = _as_float_array(lat, "lat"), _as_float_array(lon, "lon")
    if lat_a.shape != lon_a.shape:
        raise S2Error(f"lat and lon differ in length: {lat_a.size} vs {lon_a.size}")
    out = np.empty(lat_a.size, dtype=np.uint64)
    # Blocks small enough to stay in cache: several times faster than whole-array passes.
    for lo in range(0, lat_a.size, _BLOCK):
        hi = lo + _BLOCK
        _require_valid(lat_a[lo:hi], lon_a[lo:hi], offset=lo)
        face, u, v = _face_uv(lat_a[lo:hi], lon_a[lo:hi])
        i, j = _st_to_ij(_uv_to_st(u)), _st_to_ij(_uv_to_st(v))
        out[lo:hi] = _face_ij_to_id(face, i, j, level)
    return out


def parent(ids: np.ndarray, level: int) -> np.ndarray:
    """Ancestor at `level` of each cell id (ids must be at `level` or finer)."""
    level = check_level(level)
    ids = np.asarray(ids, dtype=np.uint64)
    lsb = np.uint64(1) << np.uint64(2 * (MAX_LEVEL - level))
    return (ids & (~lsb + np.uint64(1))) | lsb


# ----------------------------------------------------------------------------- tokens


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _trailing_zero_bits(ids: np.ndarray) -> np.ndarray:
    """Count of trailing zero bits of each nonzero uint64 (64 for zero)."""
    low = ids & (~ids + np.uint64(1))
    out = np.full(ids.shape, 64, dtype=np.int64)
    nz = low != 0
    # Powers of two are exact in float64, so log2 is exact here.
    out[nz] = np.log2(low[nz].astype(np.float64)).astype(np.int64)
    return out


_BYTE_HEX = np.array([[_HEX[b >> 4], _HEX[b & 15]] for b in range(256)], dtype=np.uint8)


def _string_array(chars: np.ndarray, lengths: np.ndarray) -> pa.StringArray:
    """Arrow strings from a padded (n, width) character matrix and per-row lengths."""
    n, width = chars.shape
    if n and (lengths == width).all():
        data = np.ascontiguousarray(chars).reshape(-1)
    else:
        data = chars[np.arange(width)[None, :] < lengths[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def tokens(ids: np.ndarray) -> pa.StringArray:
    """Tokens of cell ids as an Arrow string array, built without per-id Python."""
    ids = np.ascontiguousarray(ids, dtype=np.uint64)
    chars = _hex_digits(ids)
    lengths = 16 - _trailing_zero_bits(ids) // 4
    zero = lengths == 0
    if zero.any():  # the invalid id 0 has the token "X"
        lengths[zero] = 1
        chars[zero, 0] = ord("X")
    width = int(lengths.max()) if ids.size else 0
    return _string_array(chars[:, :width], lengths)


def token_width(level: int) -> int:
    """Hex digits in a token at `level` (its last digit holds the marker bit)."""
    return (63 - 2 * (MAX_LEVEL - check_level(level))) // 4 + 1


_TRIPLE_HEX = np.array(
    [[_HEX[(n >> 8) & 15], _HEX[(n >> 4) & 15], _HEX[n & 15]] for n in range(4096)], dtype=np.uint8
)


def _hex_digits(ids: np.ndarray, width: int = 16) -> np.ndarray:
    """(n, width) matrix of the first `width` lowercase hex digits (ASCII) of each id.

    Three digits per lookup in a 12 KB table that stays in cache.
    """
    ids = np.asarray(ids, dtype=np.uint64)
    groups = (width + 2) // 3
    out = np.empty((ids.size, 3 * groups), dtype=np.uint8)
    for g in range(groups):
        shift = 64 - 12 * (g + 1)
        part = (ids >> np.uint64(shift)) if shift >= 0 else (ids << np.uint64(-shift))
        out[:, 3 * g : 3 * g + 3] = _TRIPLE_HEX[(part & np.uint64(0xFFF)).astype(np.intp)]
    return out[:, :width]


def cell_tokens(lat: object, lon: object, level: int) -> pa.StringArray:
    """S2 cell tokens at `level` of points given in degrees.

    All tokens of one level have the same width, so the Arrow buffers are filled
    directly, block by block, with no per-token work.
    """
    ids = cell_ids(lat, lon, level)
    width = token_width(level)
    data = np.empty((ids.size, width), dtype=np.uint8)
    for lo in range(0, ids.size, _BLOCK):
        data[lo : lo + _BLOCK] = _hex_digits(ids[lo : lo + _BLOCK], width)
    offsets = np.arange(0, (ids.size + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        ids.size, pa.py_buffer(offsets), pa.py_buffer(data.reshape(-1))
    )


def token_to_id(tokens_in: object) -> np.ndarray:
    """Cell ids of tokens; raises S2Error naming the first invalid token."""
    arr = pa.array(tokens_in, type=pa.string()) if not isinstance(tokens_in, pa.Array) else tokens_in
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.string())
    if arr.null_count:
        raise S2Error("S2 token is null")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    n = len(arr)
    bad = (lengths < 1) | (lengths > 16)
    ids = np.zeros(n, dtype=np.uint64)
    for pos in range(16):
        has = (lengths > pos) & ~bad
        c = np.zeros(n, dtype=np.int64)
        c[has] = data[offsets[:-1][has] + pos]
        digit = np.full(n, -1, dtype=np.int64)
        digit[(c >= 48) & (c <= 57)] = c[(c >= 48) & (c <= 57)] - 48
        lower = (c >= 97) & (c <= 102)
        digit[lower] = c[lower] - 87
        upper = (c >= 65) & (c <= 70)
        digit[upper] = c[upper] - 55
        bad |= has & (digit < 0)
        ids |= np.where(has, digit, 0).astype(np.uint64) << np.uint64(60 - 4 * pos)
    bad |= ~is_valid(ids)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise S2Error(f"invalid S2 cell token {arr[k].as_py()!r} (expected 1-16 hex digits of a valid cell id)")
    return ids


def is_valid(ids: np.ndarray) -> np.ndarray:
    """Whether each id is a valid cell: face 0-5 and a marker bit at an even position."""
    ids = np.asarray(ids, dtype=np.uint64)
    tz = _trailing_zero_bits(ids)
    return (ids != 0) & ((ids >> np.uint64(_POS_BITS)) < 6) & (tz % 2 == 0) & (tz < 61)


def levels(ids: np.ndarray) -> np.ndarray:
    """Level of each (valid) cell id."""
    return MAX_LEVEL - _trailing_zero_bits(np.asarray(ids, dtype=np.uint64)) // 2


def token_levels(tokens_in: object) -> np.ndarray:
    return levels(token_to_id(tokens_in))


# ----------------------------------------------------------------------------- id -> lat/lon


def _id_to_face_ij(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    face = (ids >> np.uint64(_POS_BITS)).astype(np.int64)
    bits = face & _SWAP_MASK
    i = np.zeros(ids.shape, dtype=np.int64)
    j = np.zeros(ids.shape, dtype=np.int64)
    for k in range(7, -1, -1):
        nbits = MAX_LEVEL - 7 * _LOOKUP_BITS if k == 7 else _LOOKUP_BITS
        chunk = (ids >> np.uint64(k * 2 * _LOOKUP_BITS + 1)) & np.uint64((1 << (2 * nbits)) - 1)
        bits = bits + (chunk.astype(np.int64) << 2)
        bits = _LOOKUP_IJ[bits]
        i += (bits >> (_LOOKUP_BITS + 2)) << (k * _LOOKUP_BITS)
        j += ((bits >> 2) & ((1 << _LOOKUP_BITS) - 1)) << (k * _LOOKUP_BITS)
        bits = bits & (_SWAP_MASK | _INVERT_MASK)
    return face, i, j


def _st_to_uv(s: np.ndarray) -> np.ndarray:
    return np.where(s >= 0.5, (4 * s * s - 1) / 3.0, (1 - 4 * (1 - s) * (1 - s)) / 3.0)


def _face_uv_to_xyz(face: np.ndarray, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, ...]:
    one = np.ones_like(u)
    conds = [face == 0, face == 1, face == 2, face == 3, face == 4]
    x = np.select(conds, [one, -u, -u, -one, v], v)
    y = np.select(conds, [u, one, -v, -v, -one], u)
    z = np.select(conds, [v, v, one, -u, -u], -one)
    return x, y, z


def _xyz_to_latlon(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lat = np.degrees(np.arctan2(z, np.sqrt(x * x + y * y)))
    lon = np.degrees(np.arctan2(y, x))
    return lat, lon


def cell_centers(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre (lat, lon) in degrees of each cell."""
    ids = np.asarray(ids, dtype=np.uint64)
    face, i, j = _id_to_face_ij(ids)
    leaf = (ids & np.uint64(1)) == 1
    # S2's centre rule: leaf cells are offset by half a leaf; others sit on an (i, j) boundary.
    odd = ((i ^ (ids >> np.uint64(2)).astype(np.int64)) & 1) == 1
    delta = np.where(leaf, 1, np.where(odd, 2, 0))
    s = (2 * i + delta) / float(2 * _MAX_SIZE)
    t = (2 * j + delta) / float(2 * _MAX_SIZE)
    return _xyz_to_latlon(*_face_uv_to_xyz(face, _st_to_uv(s), _st_to_uv(t)))


def cell_vertices(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lat/lon (degrees) of the 4 corners of each cell: two arrays of shape (n, 4)."""
    ids = np.asarray(ids, dtype=np.uint64)
    face, i, j = _id_to_face_ij(ids)
    size = (ids & (~ids + np.uint64(1))).astype(np.float64)  # lsb
    cell_size = np.sqrt(size).astype(np.int64)  # leaf cells per side: 2^(30-level)
    i0 = i & ~(cell_size - 1)
    j0 = j & ~(cell_size - 1)
    lats, lons = [], []
    for di, dj in ((0, 0), (1, 0), (1, 1), (0, 1)):
        s = (i0 + di * cell_size) / float(_MAX_SIZE)
        t = (j0 + dj * cell_size) / float(_MAX_SIZE)
        lat, lon = _xyz_to_latlon(*_face_uv_to_xyz(face, _st_to_uv(s), _st_to_uv(t)))
        lats.append(lat)
        lons.append(lon)
    return np.stack(lats, axis=1), np.stack(lons, axis=1)


# ----------------------------------------------------------------------------- distances


def haversine_km(lat1: object, lon1: object, lat2: object, lon2: object) -> np.ndarray:
    """Great-circle distance in km on S2's Earth sphere."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


@dataclass(frozen=True)
class CellBounds:
    """Each cell's centre and the great-circle radius (km) of a cap containing it."""

    lat: np.ndarray
    lon: np.ndarray
    radius_km: np.ndarray


def cell_bounds(ids: np.ndarray) -> CellBounds:
    """A conservative bounding cap per cell (centre + farthest vertex), for pruning.

    S2 cells are convex spherical quadrilaterals, so the cap through the farthest
    vertex contains the whole cell; a small margin absorbs rounding.
    """
    lat, lon = cell_centers(ids)
    vlat, vlon = cell_vertices(ids)
    dist = haversine_km(lat[:, None], lon[:, None], vlat, vlon)
    return CellBounds(lat, lon, dist.max(axis=1) * (1 + 1e-9) + 1e-6)


def cells_near(ids: np.ndarray, lat: float, lon: float, radius_km: float) -> np.ndarray:
    """Mask of cells that may contain a point within `radius_km` of (lat, lon)."""
    b = cell_bounds(ids)
    return haversine_km(b.lat, b.lon, lat, lon) <= b.radius_km + radius_km
