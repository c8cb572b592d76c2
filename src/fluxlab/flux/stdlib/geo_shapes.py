"""Spherical geometry for the experimental/geo package, vectorized with NumPy.

Follows what Flux does with the Go S2 library: points are unit vectors, distances
are angles (atan2(|u x v|, u . v)) times the Earth radius of the chosen unit
(6371.01 km), edges of polygons, boxes-as-polygons, linestrings and S2 cells are
great-circle arcs, a circle is a cap, a box is a lat/lon rectangle, and a polygon
is the smaller of the two regions its loop bounds (interior included in distances).
Point-in-polygon uses the gnomonic projection centred on the point, which maps great
circles to straight lines, so a planar crossing test is exact for geodesic edges.
Registers no Flux functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from fluxlab.flux.errors import FluxRuntimeError

EARTH_RADIUS_KM = 6371.01
EARTH_RADIUS = {"m": EARTH_RADIUS_KM * 1000, "km": EARTH_RADIUS_KM, "mile": EARTH_RADIUS_KM / 1.609344}


def earth_radius(units: Any) -> float:
    """Earth radius in the unit named by a `{distance: "km"|"m"|"mile"}` record."""
    if not isinstance(units, dict) or set(units) != {"distance"}:
        raise FluxRuntimeError("invalid units parameter: missing field: distance")
    unit = units["distance"]
    if unit not in EARTH_RADIUS:
        raise FluxRuntimeError(f"invalid units parameter: unsupported distance unit '{unit}'")
    return EARTH_RADIUS[unit]


def xyz(lat: Any, lon: Any) -> np.ndarray:
    """Unit vectors (n, 3) of points in degrees."""
    la, lo = np.radians(np.asarray(lat, dtype=np.float64)), np.radians(np.asarray(lon, dtype=np.float64))
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Angle in radians between unit vectors (broadcasting over leading axes)."""
    return np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1))


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    la, lo = math.radians(lat), math.radians(lon)
    return math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)


def point_angle(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The same angle as `angle` for one pair of points, without array overhead
    (ST_Distance is called once per row from `map`)."""
    ux, uy, uz = _unit(lat1, lon1)
    vx, vy, vz = _unit(lat2, lon2)
    cross = math.sqrt((uy * vz - uz * vy) ** 2 + (uz * vx - ux * vz) ** 2 + (ux * vy - uy * vx) ** 2)
    return math.atan2(cross, ux * vx + uy * vy + uz * vz)


# ------------------------------------------------------------------------------ shapes


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


@dataclass(frozen=True)
class Box:
    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float

    def corners(self) -> np.ndarray:
        return xyz([self.min_lat, self.min_lat, self.max_lat, self.max_lat],
                   [self.min_lon, self.max_lon, self.max_lon, self.min_lon])


@dataclass(frozen=True)
class Circle:
    lat: float
    lon: float
    radius: float  # radians


@dataclass(frozen=True)
class Polygon:
    vertices: np.ndarray  # (m, 3)


@dataclass(frozen=True)
class Polyline:
    vertices: np.ndarray  # (m, 3)


Shape = Point | Box | Circle | Polygon | Polyline


def _floats(rec: dict[str, Any], *names: str) -> list[float]:
    try:
        return [float(rec[n]) for n in names]
    except (TypeError, ValueError) as exc:
        raise FluxRuntimeError(f"geo: {', '.join(names)} must be numbers") from exc


def _check_latlon(name: str, lat: list[float], lon: list[float]) -> None:
    """Out-of-range or NaN coordinates would give silently wrong coverings and distances."""
    for v in lat:
        if not -90.0 <= v <= 90.0:
            raise FluxRuntimeError(f"geo: {name} latitude {v} is outside [-90, 90]")
    for v in lon:
        if not -180.0 <= v <= 180.0:
            raise FluxRuntimeError(f"geo: {name} longitude {v} is outside [-180, 180]")


def parse_shape(name: str, rec: Any, radius_unit: float) -> Shape:
    """A region/geometry record as Flux reads it (by its exact set of properties);
    coordinates are checked (±90, ±180, not NaN) and a circle's radius must be >= 0."""
    shape = _parse_shape(name, rec, radius_unit)
    if isinstance(shape, Point | Circle):
        _check_latlon(name, [shape.lat], [shape.lon])
    elif isinstance(shape, Box):
        _check_latlon(name, [shape.min_lat, shape.max_lat], [shape.min_lon, shape.max_lon])
    else:
        lat, lon = _latlon(shape.vertices)
        if not (np.isfinite(lat).all() and np.isfinite(lon).all()):
            raise FluxRuntimeError(f"geo: {name} has a NaN or infinite coordinate")
    if isinstance(shape, Circle) and not shape.radius >= 0.0:
        raise FluxRuntimeError(f"geo: {name} radius must be a number >= 0, got "
                               f"{shape.radius * radius_unit}")
    return shape


def _parse_shape(name: str, rec: Any, radius_unit: float) -> Shape:
    if not isinstance(rec, dict):
        raise FluxRuntimeError(f"geo: {name} must be a record")
    keys = set(rec)
    if keys == {"lat", "lon"}:
        return Point(*_floats(rec, "lat", "lon"))
    if keys == {"minLat", "minLon", "maxLat", "maxLon"}:
        lo_lat, lo_lon, hi_lat, hi_lon = _floats(rec, "minLat", "minLon", "maxLat", "maxLon")
        return Box(min(lo_lat, hi_lat), min(lo_lon, hi_lon), max(lo_lat, hi_lat), max(lo_lon, hi_lon))
    if keys == {"lat", "lon", "radius"}:
        lat, lon, radius = _floats(rec, "lat", "lon", "radius")
        return Circle(lat, lon, radius / radius_unit)
    if keys == {"points"}:
        pts = rec["points"]
        if not isinstance(pts, list) or len(pts) < 3:
            raise FluxRuntimeError("geo: polygon must have at least 3 points")
        return Polygon(xyz([_floats(p, "lat")[0] for p in pts], [_floats(p, "lon")[0] for p in pts]))
    if keys == {"linestring"}:
        return Polyline(parse_linestring(rec["linestring"]))
    raise FluxRuntimeError(f"unsupported geometry specified for '{name}'")


def parse_linestring(text: Any) -> np.ndarray:
    """`"lon lat, lon lat, ..."` as unit vectors."""
    if not isinstance(text, str):
        raise FluxRuntimeError("geo: empty linestring")
    lats, lons = [], []
    for part in text.split(","):
        fields = part.split()
        if len(fields) < 2:
            raise FluxRuntimeError("geo: invalid linestring - empty part")
        try:
            lons.append(float(fields[0]))
            lats.append(float(fields[1]))
        except ValueError as exc:
            raise FluxRuntimeError(f"geo: invalid linestring - {exc}") from exc
    return xyz(lats, lons)


# ------------------------------------------------------------------------------ primitives


def point_edge_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle from points p (n, 3) to the geodesic segment a-b (each (3,) or (n, 3))."""
    n = np.cross(a, b)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    ends = np.minimum(angle(p, a), angle(p, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        n = n / norm
        # The closest point of the great circle lies inside the arc when p is on the
        # inner side of both planes through the arc's ends and the circle's normal.
        inside = (np.sum(np.cross(n, a) * p, axis=-1) >= 0) & (np.sum(np.cross(b, n) * p, axis=-1) >= 0)
        perp = np.abs(np.arcsin(np.clip(np.sum(p * n, axis=-1), -1.0, 1.0)))
    degenerate = norm[..., 0] == 0
    return np.where(inside & ~degenerate, np.minimum(perp, ends), ends)


def _edges(vertices: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    if closed:
        return vertices, np.roll(vertices, -1, axis=0)
    return vertices[:-1], vertices[1:]


def distance_to_edges(p: np.ndarray, vertices: np.ndarray, closed: bool) -> np.ndarray:
    """Smallest angle from each point to the edges of a loop or polyline."""
    if len(vertices) == 1:
        return angle(p, vertices[0])
    starts, ends = _edges(vertices, closed)
    out = np.full(len(p), np.inf)
    for a, b in zip(starts, ends, strict=True):
        out = np.minimum(out, point_edge_distance(p, a, b))
    return out


def loop_contains(vertices: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Whether each point lies inside the loop (crossing test in the gnomonic plane at p)."""
    p = np.atleast_2d(p)
    helper = np.where(np.abs(p[:, [2]]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    e1 = np.cross(helper, p)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(p, e1)
    dots = vertices @ p.T  # (m, n)
    visible = np.all(dots > 0, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (vertices @ e1.T) / dots
        y = (vertices @ e2.T) / dots
    inside = np.zeros(p.shape[0], dtype=bool)
    x2, y2 = np.roll(x, -1, axis=0), np.roll(y, -1, axis=0)
    for k in range(len(vertices)):
        crosses = (y[k] > 0) != (y2[k] > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = x[k] + (0 - y[k]) * (x2[k] - x[k]) / (y2[k] - y[k])
        inside ^= crosses & (at > 0)
    return inside & visible


def quads_contain(loops: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Whether each of many small loops (n, k, 3) contains one point p (3,)."""
    helper = np.array([0.0, 0.0, 1.0]) if abs(p[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(helper, p)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(p, e1)
    dots = loops @ p  # (n, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = (loops @ e1) / dots, (loops @ e2) / dots
    x2, y2 = np.roll(x, -1, axis=1), np.roll(y, -1, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x + (0 - y) * (x2 - x) / (y2 - y)
    crossings = ((y > 0) != (y2 > 0)) & (at > 0)
    return (np.sum(crossings, axis=1) % 2 == 1) & np.all(dots > 0, axis=1)


def rect_contains(box: Box, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    lat_ok = (lat >= box.min_lat) & (lat <= box.max_lat)
    return lat_ok & (lon >= box.min_lon) & (lon <= box.max_lon)


def _meridian_distance(p: np.ndarray, box: Box, lon: float) -> np.ndarray:
    a, b = xyz([box.min_lat, box.max_lat], [lon, lon])
    return point_edge_distance(p, a, b)


def rect_distance(box: Box, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """S2 Rect.DistanceToLatLng: latitude gap inside the lon span, else the nearer side."""
    inside_lon = (lon >= box.min_lon) & (lon <= box.max_lon)
    gap = np.radians(np.maximum(0.0, np.maximum(lat - box.max_lat, box.min_lat - lat)))
    p = xyz(lat, lon)
    side = np.minimum(_meridian_distance(p, box, box.min_lon), _meridian_distance(p, box, box.max_lon))
    return np.where(inside_lon, gap, side)


def _segments_cross(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> bool:
    ab, cd = np.cross(a, b), np.cross(c, d)
    return bool(np.dot(ab, c) * np.dot(ab, d) < 0 and np.dot(cd, a) * np.dot(cd, b) < 0
                and np.dot(a + b, c + d) > 0)


def loop_polyline_distance(loop: np.ndarray, line: np.ndarray) -> float:
    """Distance between a loop (interior included) and a polyline: 0 when they touch."""
    if loop_contains(loop, line).any():
        return 0.0
    lstarts, lends = _edges(loop, True)
    pstarts, pends = _edges(line, False)
    for a, b in zip(lstarts, lends, strict=True):
        for c, d in zip(pstarts, pends, strict=True):
            if _segments_cross(a, b, c, d):
                return 0.0
    best = float(distance_to_edges(line, loop, True).min())
    if len(line) > 1:
        best = min(best, float(distance_to_edges(loop, line, False).min()))
    return best


# ------------------------------------------------------------------------------ operations


def contains(region: Shape, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Whether a region contains each point."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    if isinstance(region, Box):
        return rect_contains(region, lat, lon)
    if isinstance(region, Circle):
        return angle(xyz(lat, lon), xyz(region.lat, region.lon)) <= region.radius
    if isinstance(region, Polygon):
        return loop_contains(region.vertices, xyz(lat, lon))
    raise FluxRuntimeError(f"unsupported region type: {type(region).__name__.lower()}")


def contains_geometry(region: Shape, geometry: Shape) -> bool:
    """ST_Contains: a point, or every vertex of a linestring, lies in the region."""
    if isinstance(geometry, Point):
        if isinstance(region, Circle):
            return point_angle(region.lat, region.lon, geometry.lat, geometry.lon) <= region.radius
        return bool(contains(region, np.array([geometry.lat]), np.array([geometry.lon]))[0])
    if isinstance(geometry, Polyline):
        lat, lon = _latlon(geometry.vertices)
        return bool(contains(region, lat, lon).all())
    raise FluxRuntimeError(f"unsupported geometry type: {type(geometry).__name__.lower()}")


def _latlon(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.degrees(np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1]))), np.degrees(np.arctan2(v[:, 1], v[:, 0]))


def point_distances(region: Shape, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Angles from a region to many points (Flux's stDistance with point geometry)."""
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    p = xyz(lat, lon)
    if isinstance(region, Point):
        return angle(xyz(region.lat, region.lon), p)
    if isinstance(region, Box):
        return rect_distance(region, lat, lon)
    if isinstance(region, Circle):
        return np.maximum(angle(xyz(region.lat, region.lon), p) - region.radius, 0.0)
    if isinstance(region, Polygon):
        inside = loop_contains(region.vertices, p)
        return np.where(inside, 0.0, distance_to_edges(p, region.vertices, True))
    raise FluxRuntimeError(f"unsupported region type: {type(region).__name__.lower()}")


def distance(region: Shape, geometry: Shape) -> float:
    """stDistance in radians."""
    if isinstance(geometry, Point):
        if isinstance(region, Point | Circle):
            d = point_angle(region.lat, region.lon, geometry.lat, geometry.lon)
            return d if isinstance(region, Point) else max(d - region.radius, 0.0)
        return float(point_distances(region, np.array([geometry.lat]), np.array([geometry.lon]))[0])
    if not isinstance(geometry, Polyline):
        raise FluxRuntimeError(f"unsupported geometry type: {type(geometry).__name__.lower()}")
    line = geometry.vertices
    if isinstance(region, Point):
        return float(distance_to_edges(xyz([region.lat], [region.lon]), line, False)[0])
    if isinstance(region, Circle):
        d = float(distance_to_edges(xyz([region.lat], [region.lon]), line, False)[0])
        return max(d - region.radius, 0.0)
    if isinstance(region, Box):
        return loop_polyline_distance(region.corners(), line)
    if isinstance(region, Polygon):
        return loop_polyline_distance(region.vertices, line)
    raise FluxRuntimeError(f"unsupported region type: {type(region).__name__.lower()}")


def length(geometry: Shape) -> float:
    """stLength in radians: sum of the linestring's segment angles (0 for a point)."""
    if isinstance(geometry, Point):
        return 0.0
    if isinstance(geometry, Polyline):
        v = geometry.vertices
        return float(angle(v[:-1], v[1:]).sum()) if len(v) > 1 else 0.0
    raise FluxRuntimeError(f"unsupported geometry type: {type(geometry).__name__.lower()}")
