"""The Python API: `fluxlab.connect(...)` returns a `Client` that mirrors the CLI.

    import fluxlab
    with fluxlab.connect(store="/data/fluxlab") as client:    # or url=, token=, org=
        client.write("air", "pm25,site=a value=12 1700000000000000000")
        result = client.query('from(bucket: "air") |> range(start: 0)')
        df = client.query_df('from(bucket: "air") |> range(start: 0)')   # Polars
        pdf = client.query_df(flux, kind="pandas")
        client.sql('SELECT count(*) FROM "air"."pm25"')

Like sqlite-utils, the library and the CLI are the same operations: `query` is
`fluxlab query`, `query_csv` is `fluxlab query --format csv` (InfluxDB 2's annotated
CSV), `sql` is `fluxlab query --sql`, `write` is `fluxlab write`. Everything goes
through a `Backend`, so the same code runs on the embedded store and on InfluxDB 2.
On the embedded store, queries run under `QueryLimits` (time, memory, rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import polars as pl
import pyarrow as pa

from fluxlab.backends.base import Backend, WriteSummary
from fluxlab.backends.connect import connect as connect_backend
from fluxlab.backends.embedded import EmbeddedBackend
from fluxlab.flux.limits import QueryLimits, run_limited
from fluxlab.flux.results import encode
from fluxlab.flux.table import Stream
from fluxlab.model.points import PointBatch

FrameKind = Literal["polars", "pandas", "arrow"]


@dataclass(frozen=True)
class FluxTable:
    """One table of a Flux result: its result name, index, group key and rows (Arrow)."""

    result: str
    table: int
    group_key: dict[str, Any]
    data: pa.Table

    def to_polars(self) -> pl.DataFrame:
        frame = pl.from_arrow(self.data)
        assert isinstance(frame, pl.DataFrame)
        return frame


class QueryResult(list[FluxTable]):
    """The tables of a Flux query, in output order (a list, plus helpers)."""

    def results(self) -> list[str]:
        """Result names in first-seen order (`yield` names; `_result` by default)."""
        return list(dict.fromkeys(t.result for t in self))

    def to_arrow(self) -> pa.Table:
        """All tables as one, with leading `result` and `table` columns (like the CLI)."""
        return _combined(self)


class Client:
    """A connected backend with the CLI's operations as methods (see module docstring)."""

    def __init__(self, backend: Backend, *, limits: QueryLimits | None = None) -> None:
        self.backend = backend
        self.limits = limits or QueryLimits()

    # -- queries -------------------------------------------------------------------
    def query(self, flux: str, *, limits: QueryLimits | None = None) -> QueryResult:
        """Run Flux; one FluxTable per result table, with its group key."""
        if isinstance(self.backend, EmbeddedBackend):
            streams = self._run(flux, limits)
            return QueryResult(_tables_of(streams))
        out = QueryResult()
        for arrow in self.backend.flux(flux):
            result = arrow.column("result")[0].as_py() if arrow.num_rows else "_result"
            index = arrow.column("table")[0].as_py() if arrow.num_rows else len(out)
            data = arrow.drop_columns([c for c in ("result", "table") if c in arrow.column_names])
            out.append(FluxTable(result or "_result", int(index or 0), {}, data))
        return out

    def query_df(
        self, flux: str, *, kind: FrameKind = "polars", limits: QueryLimits | None = None
    ) -> Any:
        """Run Flux; all tables as one DataFrame with `result` and `table` columns.

        `kind`: "polars" (default), "pandas" or "arrow". Tables with different columns
        are combined with nulls where a column is missing (as `fluxlab query` prints).
        """
        combined = self.query(flux, limits=limits).to_arrow()
        return _as_frame(combined, kind)

    def query_csv(self, flux: str, *, limits: QueryLimits | None = None) -> str:
        """Run Flux; InfluxDB 2 `/api/v2/query` annotated CSV (`fluxlab query -f csv`)."""
        if isinstance(self.backend, EmbeddedBackend):
            return encode(self._run(flux, limits))
        return self.backend.flux_csv(flux)

    def sql(self, query: str, *, kind: FrameKind = "arrow") -> Any:
        """SQL on the embedded store (`fluxlab query --sql`); tables are "bucket"."measurement"."""
        return _as_frame(self.backend.sql(query), kind)

    def _run(self, flux: str, limits: QueryLimits | None) -> dict[str, Stream]:
        assert isinstance(self.backend, EmbeddedBackend)
        return run_limited(flux, store=self.backend.store, limits=limits or self.limits)

    # -- writing -------------------------------------------------------------------
    def write(
        self,
        bucket: str,
        data: str | bytes | Path | PointBatch | Iterable[PointBatch],
        *,
        precision: str = "ns",
        create_bucket: bool = True,
    ) -> WriteSummary:
        """Write line protocol (text, bytes or a file path) or PointBatches (`fluxlab write`).

        Bad line protocol lines are not written; they come back in `line_errors` with
        their line and column, as InfluxDB reports a partial write.
        """
        if create_bucket:
            self.backend.ensure_bucket(bucket)
        if isinstance(data, Path):
            data = data.read_bytes()
        if isinstance(data, str | bytes):
            return self.backend.write_line_protocol(bucket, data, precision=precision)
        batches = [data] if isinstance(data, PointBatch) else data
        return self.backend.write(bucket, batches)

    # -- buckets and schema (the backend's own methods) --------------------------------
    def buckets(self) -> list[str]:
        return [b.name for b in self.backend.list_buckets()]

    def __getattr__(self, name: str) -> Any:
        """Other backend operations (create_bucket, delete, tag_values, ...) pass through."""
        return getattr(self.backend, name)

    # -- lifetime ------------------------------------------------------------------
    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    *,
    store: Path | str | None = None,
    url: str | None = None,
    token: str | None = None,
    org: str | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    read_only: bool = False,
    limits: QueryLimits | None = None,
) -> Client:
    """Open a client: `store=` an embedded store directory, or `url=`/`token=`/`org=` for
    InfluxDB 2 (flags > INFLUX_* environment > config profile, as in the CLI)."""
    backend = connect_backend(
        url=url, token=token, org=org, store=store, profile=profile, env=env, read_only=read_only
    )
    return Client(backend, limits=limits)


# ----------------------------------------------------------------------------- helpers


def _tables_of(streams: dict[str, Stream]) -> Iterator[FluxTable]:
    for name, stream in streams.items():
        for index, table in enumerate(stream):
            yield FluxTable(name, index, table.key_dict(), table.df.to_arrow())


def _combined(tables: list[FluxTable]) -> pa.Table:
    if not tables:
        return pa.table({"result": pa.array([], pa.string()), "table": pa.array([], pa.int64())})
    parts = []
    for t in tables:
        rows = t.data.num_rows
        arrow = t.data.add_column(0, "table", pa.repeat(pa.scalar(t.table, pa.int64()), rows))
        parts.append(arrow.add_column(0, "result", pa.repeat(pa.scalar(t.result), rows)))
    return pa.concat_tables(parts, promote_options="permissive")


def _as_frame(table: pa.Table, kind: FrameKind) -> Any:
    if kind == "arrow":
        return table
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    raise ValueError(f'kind must be "polars", "pandas" or "arrow", got {kind!r}')
