"""Stream.keep_rows: one mask over many tables, split back table by table."""

from __future__ import annotations

import polars as pl

from fluxlab.flux.table import Stream, Table


def table(key: str, values: list[float], extra: bool = False) -> Table:
    df = pl.DataFrame({"id": [key] * len(values), "_value": values})
    if extra:
        df = df.with_columns(pl.lit("x").alias("tag"))
    return Table(("id",), (key,), df)


def test_keeps_order_keys_and_drops_emptied_tables() -> None:
    stream = Stream([table("c", [5, 1]), table("a", [0, 0]), table("b", [2, 9, 3])])
    calls: list[int] = []

    def big(frame: pl.DataFrame) -> pl.Series:
        calls.append(frame.height)
        return frame.get_column("_value") > 1

    out = stream.keep_rows(big)
    assert calls == [7]  # one pass over all seven rows
    assert [t.key_values for t in out] == [("c",), ("b",)]
    assert [t.df.get_column("_value").to_list() for t in out] == [[5], [2, 9, 3]]


def test_tables_of_different_schemas_are_masked_separately() -> None:
    stream = Stream([table("a", [1, 2], extra=True), table("b", [3, 4]), table("c", [5])])
    out = stream.keep_rows(lambda frame: frame.get_column("_value") % 2 == 1)
    assert [(t.key_values, t.df.columns) for t in out] == [
        (("a",), ["id", "_value", "tag"]), (("b",), ["id", "_value"]), (("c",), ["id", "_value"])
    ]
    assert [t.df.get_column("_value").to_list() for t in out] == [[1], [3], [5]]


def test_nothing_kept_and_empty_stream() -> None:
    assert len(Stream([table("a", [1])]).keep_rows(lambda f: pl.Series([False]))) == 0
    assert len(Stream().keep_rows(lambda f: pl.Series([], dtype=pl.Boolean))) == 0
