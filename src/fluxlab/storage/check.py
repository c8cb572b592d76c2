"""store.check(): does the catalog describe exactly the tables that exist, intact?

Run after a crash or before trusting a copied store. Exact but reads everything.
"""

from __future__ import annotations

import duckdb

from fluxlab.storage.catalog import SERIES_ID, WRITE_ID_COLUMN, Catalog, Measurement
from fluxlab.storage.predicate import sql_ident
from fluxlab.storage.results import CheckReport
from fluxlab.storage.usersql import STORE_CATALOG


def check_store(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> CheckReport:
    report = CheckReport()
    _check_catalog_rows(con, report)
    tables = _physical_tables(con)
    known: set[str] = set()
    for bucket_id, measurements in catalog.measurements.items():
        if bucket_id not in {b.id for b in catalog.buckets.values()}:
            report.problems.append(f"measurements recorded for missing bucket id {bucket_id}")
        for m in measurements.values():
            known.update((m.table, m.series))
            report.measurements += 1
            missing = [t for t in (m.table, m.series) if t not in tables]
            if missing:
                report.problems.append(f"measurement {m.name!r}: table {missing[0]} is missing")
                continue
            _check_columns(m, tables[m.table], tables[m.series], report)
            _check_rows(con, m, report)
            _check_series(con, m, report)
    for orphan in sorted(set(tables) - known):
        report.problems.append(f"table {orphan} is not in the catalog")
    return report


def _check_catalog_rows(con: duckdb.DuckDBPyConnection, report: CheckReport) -> None:
    queries = {
        "duplicate bucket names": "SELECT name FROM _fl_buckets GROUP BY name HAVING count(*) > 1",
        "duplicate measurement names": "SELECT name FROM _fl_measurements "
        "GROUP BY bucket_id, name HAVING count(*) > 1",
        "duplicate column keys": "SELECT key FROM _fl_columns "
        "GROUP BY measurement_id, kind, key HAVING count(*) > 1",
        "columns of unknown measurements": "SELECT key FROM _fl_columns WHERE measurement_id "
        "NOT IN (SELECT id FROM _fl_measurements)",
    }
    for problem, sql in queries.items():
        rows = con.execute(sql).fetchall()
        if rows:
            report.problems.append(f"{problem}: {[r[0] for r in rows][:5]}")


def _physical_tables(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Columns of every points (m_*) and series (s_*) table in the store file."""
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = ? AND (table_name LIKE 'm\\_%' ESCAPE '\\' "
        "OR table_name LIKE 's\\_%' ESCAPE '\\')",
        [STORE_CATALOG],
    ).fetchall()
    tables: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        tables.setdefault(table, {})[column] = dtype
    return tables


def _check_columns(
    m: Measurement, points: dict[str, str], series: dict[str, str], report: CheckReport
) -> None:
    expected = {"time": "TIMESTAMP_NS", SERIES_ID: "BIGINT", WRITE_ID_COLUMN: "BIGINT"}
    expected.update({c.name: c.sql_type for c in m.fields.values()})
    expected_series = {SERIES_ID: "BIGINT"}
    expected_series.update({c.name: c.sql_type for c in m.tags.values()})
    for table, want, actual in ((m.table, expected, points), (m.series, expected_series, series)):
        if want != actual:
            report.problems.append(
                f"measurement {m.name!r} ({table}): columns {actual} do not match the "
                f"catalog {want}"
            )


def _check_rows(con: duckdb.DuckDBPyConnection, m: Measurement, report: CheckReport) -> None:
    table = sql_ident(m.table)
    fields = [c.name for c in m.fields.values()]
    empty = " AND ".join(f"{f} IS NULL" for f in fields) or "TRUE"
    count, lo, hi, no_field = con.execute(
        f"SELECT count(*), epoch_ns(min(time)), epoch_ns(max(time)), "
        f"count(*) FILTER (WHERE {empty}) FROM {table}"
    ).fetchall()[0]
    report.points += count
    if no_field:
        report.problems.append(f"measurement {m.name!r}: {no_field} rows without any field")
    if count and (m.min_time is None or lo < m.min_time or hi > (m.max_time or 0)):
        report.problems.append(
            f"measurement {m.name!r}: stored times {lo}..{hi} outside catalog bounds "
            f"{m.min_time}..{m.max_time}"
        )
    dups = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {table} GROUP BY {SERIES_ID}, time "
        "HAVING count(*) > 1)"
    ).fetchall()[0][0]
    if dups:
        report.problems.append(f"measurement {m.name!r}: {dups} duplicate series+time keys")


def _check_series(con: duckdb.DuckDBPyConnection, m: Measurement, report: CheckReport) -> None:
    """Series ids unique, tag sets unique, and every point's series present."""
    series = sql_ident(m.series)
    tags = ", ".join(c.name for c in m.tags.values()) or "NULL"
    same_id, same_tags, orphans = con.execute(
        f"SELECT (SELECT count(*) - count(DISTINCT {SERIES_ID}) FROM {series}), "
        f"(SELECT count(*) FROM (SELECT 1 FROM {series} GROUP BY {tags} HAVING count(*) > 1)), "
        f"(SELECT count(*) FROM {sql_ident(m.table)} p WHERE NOT EXISTS "
        f"(SELECT 1 FROM {series} s WHERE s.{SERIES_ID} = p.{SERIES_ID}))"
    ).fetchall()[0]
    if same_id:
        report.problems.append(f"measurement {m.name!r}: {same_id} repeated series ids")
    if same_tags:
        report.problems.append(f"measurement {m.name!r}: {same_tags} tag sets stored twice")
    if orphans:
        report.problems.append(f"measurement {m.name!r}: {orphans} points of unknown series")
