"""User SQL over the store: tables are addressed as "bucket"."measurement".

Each bucket is an in-memory DuckDB catalog (ATTACH ':memory:') holding one view per
measurement that joins the points to their series (tag columns), renames the generated
physical columns back to the tag and field keys and hides expired points: SQL users see
one wide table (time, tags, fields) whatever the physical layout. Only SELECT statements run, so user SQL cannot change
the store; file and network access are disabled on the whole database instance when
the store is opened (unless the operator allowed it), see engine.py.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from fluxlab.storage.catalog import Bucket, Catalog, Measurement
from fluxlab.storage.errors import UserSqlError
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.sqltime import time_conditions

STORE_CATALOG = "_fluxlab_store"
RESERVED = {"system", "temp", "memory", "main", STORE_CATALOG}


class UserSql:
    """Keeps the per-bucket view catalogs in step with the store catalog."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.attached: set[str] = set()

    def run(self, catalog: Catalog, query: str) -> pa.Table:
        _require_select_only(query)
        self._refresh_views(catalog)
        try:
            return self.con.sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise UserSqlError(f"SQL failed: {exc}") from exc

    def _refresh_views(self, catalog: Catalog) -> None:
        wanted: dict[str, Bucket] = {}
        for bucket in sorted(catalog.buckets.values(), key=lambda b: b.id):
            lowered = bucket.name.lower()
            if lowered in RESERVED or lowered in wanted:
                continue  # DuckDB catalog names are case-insensitive; first bucket wins
            wanted[lowered] = bucket
        for stale in self.attached - set(wanted):
            self.con.execute(f"DETACH {sql_ident(stale)}")
            self.attached.discard(stale)
        for lowered, bucket in wanted.items():
            if lowered in self.attached:
                self.con.execute(f"DETACH {sql_ident(lowered)}")
            self.con.execute(f"ATTACH ':memory:' AS {sql_ident(lowered)}")
            self.attached.add(lowered)
            for m in catalog.measurements_of(bucket):
                self.con.execute(
                    f"CREATE VIEW {sql_ident(lowered)}.main.{sql_ident(m.name)} AS "
                    f"{_view_select(bucket, m)}"
                )


def _view_select(bucket: Bucket, m: Measurement) -> str:
    names: set[str] = {"time"}
    select = ["time"]
    for kind, cols in (("tag", m.tags), ("field", m.fields)):
        for key in sorted(cols):
            alias = key if key.lower() not in names else f"{key}_{kind}"
            names.add(alias.lower())
            select.append(f"{cols[key].name} AS {sql_ident(alias)}")
    where = time_conditions(bucket, None, None)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return f"SELECT {', '.join(select)} FROM {m.from_sql(STORE_CATALOG + '.main.')}{clause}"


def _require_select_only(query: str) -> None:
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise UserSqlError(f"SQL does not parse: {exc}") from exc
    if not statements:
        raise UserSqlError("no SQL statement given")
    for statement in statements:
        if statement.type != duckdb.StatementType.SELECT:
            raise UserSqlError(
                f"only SELECT queries are allowed here, got {statement.type.name}: "
                "change data with fluxlab write/delete commands"
            )
