"""Naive Bayes on points: features, seasons, evaluation, persistence."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from sklearn.naive_bayes import CategoricalNB

from fluxlab.analysis.bayes import ClassifierSpec, NaiveBayesModel, train_and_evaluate
from fluxlab.analysis.features import FeatureError, derive, seasons


def _ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1e9)


@pytest.mark.parametrize(
    ("when", "lat", "season"),
    [
        ("2019-07-01T00:00:00", 50.0, "summer"),
        ("2019-07-01T00:00:00", -30.0, "winter"),
        ("2019-03-19T00:00:00", 10.0, "winter"),
        ("2019-03-21T00:00:00", 10.0, "spring"),  # March equinox 2019: 20 Mar 21:58 UTC
        ("2019-03-21T00:00:00", -10.0, "autumn"),
        ("2019-12-22T03:00:00", 45.0, "autumn"),  # December solstice 2019: 22 Dec 04:19 UTC
        ("2019-12-22T06:00:00", 45.0, "winter"),
        ("2019-12-22T06:00:00", -45.0, "summer"),
        ("2020-09-23T00:00:00", 0.0, "autumn"),  # September equinox 2020: 22 Sep 13:31 UTC
    ],
)
def test_astronomical_seasons_both_hemispheres(when: str, lat: float, season: str) -> None:
    assert seasons(np.array([_ns(when)]), np.array([lat]))[0] == season


def test_derived_features() -> None:
    frame = pl.DataFrame(
        {
            "time": [_ns("2019-01-15T13:00:00"), _ns("2019-08-03T02:00:00")],
            "lat": [52.1, -33.9],
            "lon": [4.3, 18.4],
            "neighborhood": ["Asylum Hill", "Frog Hollow"],
        }
    )
    feats = derive(frame, ["hemisphere", "season", "month", "hour", "weekday", "s2:8", "neighborhood"])
    assert feats.row(0) == ("north", "winter", "01", "13", "tue", "47c5b", "Asylum Hill")
    assert feats.row(1) == ("south", "winter", "08", "02", "sat", "1dcc7", "Frog Hollow")
    with pytest.raises(FeatureError, match="needs column"):
        derive(frame.drop("lat"), ["hemisphere"])


def _birds(n: int, seed: int = 0) -> pl.DataFrame:
    """Two species, 8 individuals: storks are mostly north, terns mostly south."""
    rng = np.random.default_rng(seed)
    species = rng.choice(["stork", "tern"], n)
    t = rng.integers(_ns("2019-01-01T00:00:00"), _ns("2019-12-31T00:00:00"), n)
    north = np.where(species == "stork", rng.random(n) < 0.9, rng.random(n) < 0.1)
    lat = np.where(north, rng.uniform(10, 60, n), rng.uniform(-50, -5, n))
    lon = rng.uniform(-20, 40, n)
    individual = np.char.add(species.astype(str), rng.integers(0, 4, n).astype(str))
    return pl.DataFrame(
        {"time": t, "lat": lat, "lon": lon, "species": species, "individual": individual}
    )


def test_learns_species_from_hemisphere_and_season_beating_baseline() -> None:
    data = _birds(20_000)
    spec = ClassifierSpec(
        target="species", categorical=["hemisphere", "season"], split="group:individual"
    )
    model, ev = train_and_evaluate(data, spec)
    assert ev.n_train + ev.n_test == 20_000
    assert ev.accuracy > 0.85 > ev.baseline_accuracy + 0.2
    assert ev.macro_f1 > 0.85 > ev.baseline_macro_f1
    assert sum(map(sum, ev.confusion)) == ev.n_test
    # Group split: no individual on both sides.
    assert ev.labels == ["stork", "tern"]
    proba = model.predict_proba(
        pl.DataFrame({"time": [_ns("2019-07-01T00:00:00")], "lat": [45.0], "lon": [5.0]})
    )
    assert proba[0].sum() == pytest.approx(1.0)
    assert proba[0][model.classes.index("stork")] > 0.8


def test_categorical_only_matches_sklearn_and_survives_json() -> None:
    data = _birds(3000, seed=1)
    spec = ClassifierSpec(target="species", categorical=["hemisphere", "month"], split="random")
    model = NaiveBayesModel(spec).fit(data)
    codes = model._categorical_codes(model.features(data))
    ref = CategoricalNB(min_categories=[3, 13]).fit(codes, data["species"].to_numpy())
    assert np.allclose(model.predict_proba(data), ref.predict_proba(codes))
    again = NaiveBayesModel.from_json(model.to_json())
    assert np.allclose(again.predict_proba(data), model.predict_proba(data))


def test_mixed_categorical_and_numeric_model_round_trips() -> None:
    data = _birds(3000, seed=2)
    spec = ClassifierSpec(
        target="species", categorical=["season"], numeric=["lat", "lon"], split="time"
    )
    model, ev = train_and_evaluate(data, spec)
    assert ev.accuracy > ev.baseline_accuracy
    again = NaiveBayesModel.from_json(model.to_json())
    assert np.allclose(again.predict_proba(data), model.predict_proba(data))


def test_unseen_category_and_bad_input() -> None:
    data = _birds(500)
    model = NaiveBayesModel(ClassifierSpec(target="species", categorical=["s2:6"])).fit(data)
    far = pl.DataFrame({"time": [0], "lat": [-80.0], "lon": [170.0]})
    assert model.predict_proba(far)[0].sum() == pytest.approx(1.0)
    with pytest.raises(FeatureError, match="single class"):
        NaiveBayesModel(ClassifierSpec(target="species", categorical=["hemisphere"])).fit(
            data.filter(pl.col("species") == "stork")
        )
    with pytest.raises(FeatureError, match="no column"):
        train_and_evaluate(data, ClassifierSpec(target="taxon", categorical=["hemisphere"]))
    with pytest.raises(FeatureError, match="at least one feature"):
        ClassifierSpec(target="species").validate()


@pytest.mark.parametrize(
    ("feature", "lat", "lon"),
    [("hemisphere", 95.0, 0.0), ("season", float("nan"), 0.0), ("season", None, 0.0),
     ("s2:6", 10.0, -181.0)],
)
def test_features_refuse_impossible_coordinates(
    feature: str, lat: float | None, lon: float
) -> None:
    frame = pl.DataFrame({"time": [_ns("2019-04-01T00:00:00")] * 2, "lat": [10.0, lat],
                          "lon": [0.0, lon]}, schema_overrides={"lat": pl.Float64})
    with pytest.raises(FeatureError, match=r"1 row\(s\) have no valid (lat|lon) \(first: row 1"):
        derive(frame, [feature])
