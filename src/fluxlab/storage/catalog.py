"""The catalog: buckets, measurements and the physical tables/columns behind them.

Physical layout (format 2, as InfluxDB's series index): per measurement a small series
table `s_<id>` (`sid`, one VARCHAR column per tag key; one row per distinct tag set) and
a points table `m_<id>` (`time`, `sid`, the write id, one typed column per field key).
Rows carry an integer series id instead of repeating the tag strings: DuckDB spends
about 3x the CPU on persistent string columns, and keys (sid, time) compare as two ints.

Physical names are generated (`m_<id>`/`s_<id>`, `t_<n>` for tags, `f_<n>` for fields)
and recorded here, because bucket, measurement, tag and field names may be anything,
including names that differ only in case (DuckDB identifiers are case-insensitive).
The catalog lives in DuckDB tables next to the data, so a catalog change and the data
change it describes commit together. A copy is cached in Python; the store is the only
writer (see lock.py), so the cache is reloaded only after a rollback.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import duckdb

from fluxlab.model.points import FieldType
from fluxlab.storage.errors import BucketExists, BucketNotFound, StoreError
from fluxlab.storage.predicate import sql_ident

FORMAT_VERSION = "2"
"""1: one wide table per measurement (tag strings per row); 2: series ids."""

SQL_TYPES: dict[FieldType, str] = {
    FieldType.FLOAT: "DOUBLE",
    FieldType.INTEGER: "BIGINT",
    FieldType.UNSIGNED: "UBIGINT",
    FieldType.STRING: "VARCHAR",
    FieldType.BOOLEAN: "BOOLEAN",
}
SERIES_ID = "sid"
"""Series id column: key of the series table, foreign key of the points table."""
WRITE_ID_COLUMN = "_w"
"""Hidden column: id of the write that stored the row (tells input vs existing collisions)."""

CATALOG_DDL = [
    "CREATE TABLE IF NOT EXISTS _fl_meta (key VARCHAR NOT NULL, value VARCHAR NOT NULL)",
    """CREATE TABLE IF NOT EXISTS _fl_buckets (
        id BIGINT NOT NULL, name VARCHAR NOT NULL, org VARCHAR NOT NULL,
        description VARCHAR NOT NULL, retention_ns BIGINT NOT NULL, created_ns BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS _fl_measurements (
        id BIGINT NOT NULL, bucket_id BIGINT NOT NULL, name VARCHAR NOT NULL,
        table_name VARCHAR NOT NULL, min_time BIGINT, max_time BIGINT)""",
    """CREATE TABLE IF NOT EXISTS _fl_columns (
        measurement_id BIGINT NOT NULL, key VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        field_type VARCHAR, column_name VARCHAR NOT NULL)""",
]


@dataclass(frozen=True)
class Bucket:
    """A named container of measurements with an optional retention period."""

    id: int
    name: str
    org: str
    description: str
    retention_ns: int
    created_ns: int


@dataclass(frozen=True)
class Column:
    """One tag or field key and the physical column that holds it."""

    key: str
    kind: str  # "tag" | "field"
    name: str
    field_type: FieldType | None = None

    @property
    def sql_type(self) -> str:
        return "VARCHAR" if self.field_type is None else SQL_TYPES[self.field_type]


@dataclass
class Measurement:
    """A measurement of a bucket: one wide physical table (time, tags, fields)."""

    id: int
    bucket_id: int
    name: str
    table: str
    tags: dict[str, Column] = field(default_factory=dict)
    fields: dict[str, Column] = field(default_factory=dict)
    min_time: int | None = None
    max_time: int | None = None

    next_sid: int | None = None
    """Next free series id; None until first needed (read from the series table)."""

    @property
    def series(self) -> str:
        """Name of the series table (tag columns) that goes with the points table."""
        return "s_" + self.table.removeprefix("m_")

    def from_sql(self, schema: str = "") -> str:
        """FROM clause giving points with their tag columns (join on the series id).

        Physical column names are unique across both tables (`t_*` only in the series
        table, `time`/`f_*` only in points), so callers keep using bare names.
        """
        points, series = sql_ident(self.table), sql_ident(self.series)
        return f"{schema}{points} JOIN {schema}{series} USING ({SERIES_ID})"

    def next_column_name(self, kind: str) -> str:
        prefix = "t" if kind == "tag" else "f"
        used = {c.name for c in (*self.tags.values(), *self.fields.values())}
        n = len(used)
        while f"{prefix}_{n}" in used:
            n += 1
        return f"{prefix}_{n}"


class Catalog:
    """In-memory copy of the catalog tables plus the operations that change them."""

    def __init__(self) -> None:
        self.buckets: dict[str, Bucket] = {}
        self.measurements: dict[int, dict[str, Measurement]] = {}

    # --- loading -------------------------------------------------------------------
    @staticmethod
    def create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for ddl in CATALOG_DDL:
            con.execute(ddl)
        if not con.execute("SELECT 1 FROM _fl_meta WHERE key = 'format'").fetchall():
            con.execute("INSERT INTO _fl_meta VALUES ('format', ?)", [FORMAT_VERSION])

    @staticmethod
    def check_format(con: duckdb.DuckDBPyConnection, where: str) -> None:
        """Refuse stores written by another layout instead of misreading them."""
        rows = con.execute("SELECT value FROM _fl_meta WHERE key = 'format'").fetchall()
        if not rows or rows[0][0] == FORMAT_VERSION:
            return
        found = rows[0][0]
        older = found.isdigit() and int(found) < int(FORMAT_VERSION)
        advice = (
            "it was written by an older fluxlab (wide tables) and there is no migration: "
            "create a new store and load the data again"
            if older
            else "upgrade fluxlab"
        )
        raise StoreError(
            f"store {where} has format {found}, this fluxlab reads format "
            f"{FORMAT_VERSION} (series ids); {advice}"
        )

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection) -> Catalog:
        catalog = cls()
        rows = con.execute(
            "SELECT id, name, org, description, retention_ns, created_ns FROM _fl_buckets"
        ).fetchall()
        for row in rows:
            bucket = Bucket(*row)
            catalog.buckets[bucket.name] = bucket
            catalog.measurements[bucket.id] = {}
        by_id: dict[int, Measurement] = {}
        rows = con.execute(
            "SELECT id, bucket_id, name, table_name, min_time, max_time FROM _fl_measurements"
        ).fetchall()
        for mid, bid, name, table, lo, hi in rows:
            m = Measurement(mid, bid, name, table, min_time=lo, max_time=hi)
            by_id[mid] = m
            catalog.measurements.setdefault(bid, {})[name] = m
        rows = con.execute(
            "SELECT measurement_id, key, kind, field_type, column_name FROM _fl_columns "
            "ORDER BY measurement_id, column_name"
        ).fetchall()
        for mid, key, kind, ftype, column_name in rows:
            m = by_id.get(mid)
            if m is None:
                continue  # reported by check()
            col = Column(key, kind, column_name, FieldType(ftype) if ftype else None)
            (m.tags if kind == "tag" else m.fields)[key] = col
        return catalog

    # --- buckets ---------------------------------------------------------------------
    def bucket(self, name: str) -> Bucket:
        try:
            return self.buckets[name]
        except KeyError:
            raise BucketNotFound(name) from None

    def create_bucket(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        org: str,
        description: str,
        retention_ns: int,
    ) -> Bucket:
        _check_bucket_name(name)
        _check_retention(retention_ns)
        if name in self.buckets:
            raise BucketExists(f"bucket {name!r} already exists")
        new_id = max((b.id for b in self.buckets.values()), default=0) + 1
        bucket = Bucket(new_id, name, org, description, retention_ns, time.time_ns())
        con.execute(
            "INSERT INTO _fl_buckets VALUES (?, ?, ?, ?, ?, ?)",
            [bucket.id, name, org, description, retention_ns, bucket.created_ns],
        )
        self.buckets[name] = bucket
        self.measurements[bucket.id] = {}
        return bucket

    def update_bucket(
        self,
        con: duckdb.DuckDBPyConnection,
        name: str,
        new_name: str | None,
        description: str | None,
        retention_ns: int | None,
    ) -> Bucket:
        old = self.bucket(name)
        if new_name is not None and new_name != name:
            _check_bucket_name(new_name)
            if new_name in self.buckets:
                raise BucketExists(f"cannot rename {name!r}: bucket {new_name!r} already exists")
        if retention_ns is not None:
            _check_retention(retention_ns)
        bucket = Bucket(
            old.id,
            new_name if new_name is not None else old.name,
            old.org,
            description if description is not None else old.description,
            retention_ns if retention_ns is not None else old.retention_ns,
            old.created_ns,
        )
        con.execute(
            "UPDATE _fl_buckets SET name = ?, description = ?, retention_ns = ? WHERE id = ?",
            [bucket.name, bucket.description, bucket.retention_ns, bucket.id],
        )
        del self.buckets[name]
        self.buckets[bucket.name] = bucket
        return bucket

    def delete_bucket(self, con: duckdb.DuckDBPyConnection, name: str) -> None:
        bucket = self.bucket(name)
        for m in self.measurements.get(bucket.id, {}).values():
            con.execute(f"DROP TABLE IF EXISTS {sql_ident(m.table)}")
            con.execute(f"DROP TABLE IF EXISTS {sql_ident(m.series)}")
            con.execute("DELETE FROM _fl_columns WHERE measurement_id = ?", [m.id])
        con.execute("DELETE FROM _fl_measurements WHERE bucket_id = ?", [bucket.id])
        con.execute("DELETE FROM _fl_buckets WHERE id = ?", [bucket.id])
        del self.buckets[name]
        self.measurements.pop(bucket.id, None)

    # --- measurements and columns ------------------------------------------------------
    def measurements_of(self, bucket: Bucket) -> list[Measurement]:
        return sorted(self.measurements.get(bucket.id, {}).values(), key=lambda m: m.name)

    def ensure_measurement(
        self, con: duckdb.DuckDBPyConnection, bucket: Bucket, name: str
    ) -> Measurement:
        """The measurement, creating its points and series tables on first write."""
        known = self.measurements.setdefault(bucket.id, {})
        if name in known:
            return known[name]
        all_ids = [m.id for ms in self.measurements.values() for m in ms.values()]
        mid = max(all_ids, default=0) + 1
        m = Measurement(mid, bucket.id, name, f"m_{mid}")
        con.execute(
            f"CREATE TABLE {sql_ident(m.table)} (time TIMESTAMP_NS NOT NULL, "
            f"{SERIES_ID} BIGINT NOT NULL, {WRITE_ID_COLUMN} BIGINT NOT NULL)"
        )
        con.execute(f"CREATE TABLE {sql_ident(m.series)} ({SERIES_ID} BIGINT NOT NULL)")
        m.next_sid = 0
        con.execute(
            "INSERT INTO _fl_measurements VALUES (?, ?, ?, ?, NULL, NULL)",
            [m.id, bucket.id, name, m.table],
        )
        known[name] = m
        return m

    def add_column(
        self,
        con: duckdb.DuckDBPyConnection,
        m: Measurement,
        key: str,
        kind: str,
        field_type: FieldType | None,
    ) -> Column:
        """Schema on write: a new tag or field key becomes a new nullable column.

        Tags go to the series table: existing series get NULL (tag absent), which keeps
        their identity, so no stored point changes series.
        """
        col = Column(key, kind, m.next_column_name(kind), field_type)
        table = m.series if kind == "tag" else m.table
        con.execute(f"ALTER TABLE {sql_ident(table)} ADD COLUMN {col.name} {col.sql_type}")
        con.execute(
            "INSERT INTO _fl_columns VALUES (?, ?, ?, ?, ?)",
            [m.id, key, kind, field_type.value if field_type else None, col.name],
        )
        (m.tags if kind == "tag" else m.fields)[key] = col
        return col

    def reserve_series_ids(self, con: duckdb.DuckDBPyConnection, m: Measurement, n: int) -> int:
        """First of n consecutive new series ids (the caller inserts them in its transaction).

        The counter is cached; a rollback reloads the catalog, which resets it to None.
        """
        if m.next_sid is None:
            row = con.execute(
                f"SELECT coalesce(max({SERIES_ID}) + 1, 0) FROM {sql_ident(m.series)}"
            ).fetchall()
            m.next_sid = int(row[0][0])
        first = m.next_sid
        m.next_sid += n
        return first

    def widen_time_bounds(
        self, con: duckdb.DuckDBPyConnection, m: Measurement, lo: int, hi: int
    ) -> None:
        """Keep a superset of the stored time range: lets writes skip the overlap join."""
        new_lo = lo if m.min_time is None else min(m.min_time, lo)
        new_hi = hi if m.max_time is None else max(m.max_time, hi)
        if (new_lo, new_hi) == (m.min_time, m.max_time):
            return
        con.execute(
            "UPDATE _fl_measurements SET min_time = ?, max_time = ? WHERE id = ?",
            [new_lo, new_hi, m.id],
        )
        m.min_time, m.max_time = new_lo, new_hi


def _check_bucket_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise StoreError(f"invalid bucket name {name!r}: give a non-empty name")
    if name.startswith("_"):
        raise StoreError(
            f"invalid bucket name {name!r}: names starting with '_' are reserved "
            "(InfluxDB uses them for system buckets)"
        )


def _check_retention(retention_ns: int) -> None:
    if retention_ns < 0:
        raise StoreError(f"retention must be >= 0 ns (0 = keep forever), got {retention_ns}")
