"""S2 cells: agreement with InfluxData's reference tokens and an independent library."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest
import s2cell
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxlab.model import s2

SAMPLE = resources.files("fluxlab.datasets") / "data" / "bird-migration.line"


def _bird_points() -> tuple[np.ndarray, np.ndarray, list[str]]:
    text = SAMPLE.read_text()
    lat = np.array([float(x) for x in re.findall(r"lat=([-0-9.]+)", text)])
    lon = np.array([float(x) for x in re.findall(r"lon=([-0-9.]+)", text)])
    ref = re.findall(r"s2_cell_id=([0-9a-f]+)", text)
    return lat, lon, ref


def test_bird_migration_tokens_match_reference_at_level_11() -> None:
    lat, lon, ref = _bird_points()
    assert len(ref) == len(lat) == 8971
    assert s2.cell_tokens(lat, lon, 11).to_pylist() == ref
    # The reference tokens are level-11 cells: any other level disagrees everywhere.
    assert set(s2.token_levels(ref).tolist()) == {11}
    assert s2.cell_tokens(lat, lon, 10).to_pylist() != ref


def _random_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    edge_lat = [90, -90, 0, 0, 45, -45, 89.9999, 0, 0, 0, 35.26438968, -35.26438968]
    edge_lon = [0, 0, 180, -180, 45, -135, 10, 90, -90, 0, 45, -135]
    return np.concatenate([edge_lat, lat]), np.concatenate([edge_lon, lon])


@pytest.mark.parametrize("level", [0, 1, 5, 10, 13, 20, 27, 30])
def test_tokens_agree_with_s2cell_library(level: int) -> None:
    lat, lon = _random_points(3000, seed=level)
    ours = s2.cell_tokens(lat, lon, level).to_pylist()
    theirs = [s2cell.lat_lon_to_token(a, b, level) for a, b in zip(lat, lon, strict=True)]
    assert ours == theirs


def test_general_token_builder_matches_fixed_width_one() -> None:
    lat, lon = _random_points(500, seed=7)
    for level in (3, 11, 30):
        ids = s2.cell_ids(lat, lon, level)
        assert s2.tokens(ids).to_pylist() == s2.cell_tokens(lat, lon, level).to_pylist()


def test_cell_centres_agree_with_s2cell_library() -> None:
    lat, lon = _random_points(500, seed=3)
    for level in (2, 11, 30):
        ids = s2.cell_ids(lat, lon, level)
        clat, clon = s2.cell_centers(ids)
        ref = np.array([s2cell.cell_id_to_lat_lon(int(i)) for i in ids])
        assert np.allclose(clat, ref[:, 0], atol=1e-9)
        dlon = (clon - ref[:, 1] + 180) % 360 - 180
        assert np.allclose(dlon, 0, atol=1e-9)


coords = st.tuples(
    st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)
)


@settings(max_examples=200, deadline=None)
@given(point=coords, level=st.integers(0, 30))
def test_token_round_trip_and_containment(point: tuple[float, float], level: int) -> None:
    lat, lon = point
    leaf = s2.cell_ids([lat], [lon], 30)
    cell = s2.cell_ids([lat], [lon], level)
    # The cell at `level` is the ancestor of the point's leaf cell: it contains the point.
    assert cell[0] == s2.parent(leaf, level)[0]
    token = s2.tokens(cell)
    assert (s2.token_to_id(token) == cell).all()
    assert s2.levels(cell)[0] == level
    # The cell's centre lies in the same cell.
    clat, clon = s2.cell_centers(cell)
    assert s2.cell_ids(clat, clon, level)[0] == cell[0]


def test_cell_bounds_contain_their_points() -> None:
    lat, lon = _random_points(2000, seed=11)
    for level in (4, 10, 16):
        ids = s2.cell_ids(lat, lon, level)
        b = s2.cell_bounds(ids)
        assert (s2.haversine_km(b.lat, b.lon, lat, lon) <= b.radius_km).all()


def test_cells_near_never_prunes_a_matching_cell() -> None:
    lat, lon = _random_points(20000, seed=5)
    centre, radius = (41.76371, -72.685097), 3000.0
    ids = s2.cell_ids(lat, lon, 6)
    within = s2.haversine_km(lat, lon, *centre) <= radius
    kept = s2.cells_near(ids, *centre, radius)
    assert kept[within].all()
    assert not kept.all()  # and it does prune


def test_invalid_inputs_are_clear_errors() -> None:
    with pytest.raises(s2.S2Error, match="index 1: lat=91"):
        s2.cell_ids([0.0, 91.0], [0.0, 0.0], 10)
    with pytest.raises(s2.S2Error, match="lon=nan"):
        s2.cell_ids([0.0], [float("nan")], 10)
    with pytest.raises(s2.S2Error, match="0 to 30"):
        s2.cell_ids([0.0], [0.0], 31)
    with pytest.raises(s2.S2Error, match="invalid S2 cell token 'zz'"):
        s2.token_to_id(["89c25", "zz"])
    with pytest.raises(s2.S2Error, match="invalid S2 cell token"):
        s2.token_to_id(["89c28"])  # marker bit at an odd position: not a cell
    with pytest.raises(s2.S2Error, match="differ in length"):
        s2.cell_ids([0.0, 1.0], [0.0], 10)
