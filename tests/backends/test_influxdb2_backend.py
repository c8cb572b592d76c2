"""InfluxDB2Backend against a real HTTP server on 127.0.0.1 that records requests.

No InfluxDB is available here, so these tests pin down what can be checked honestly:
the requests the official client sends for each backend call (paths, query
parameters, JSON bodies, line protocol), and how answers and errors come back.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from influx_like_server import BUCKET_ID, ORG_ID, InfluxLikeServer

from fluxlab.backends import BackendError, NotSupported, connect
from fluxlab.backends.influxdb2 import LINES_PER_REQUEST, InfluxDB2Backend, rfc3339_ns
from fluxlab.model.points import PointBatch


def make_backend(server: InfluxLikeServer) -> InfluxDB2Backend:
    return InfluxDB2Backend(server.url, token="secret-token", org="myorg")


def bird_batch(rows: int = 2) -> PointBatch:
    table = pa.table({
        "time": pa.array([1554123600000000000 + i for i in range(rows)], pa.int64()),
        "id": pa.array(["91752A"] * rows),
        "lat": pa.array([8.3495 + i for i in range(rows)]),
        "note": pa.array(['say "hi"'] + [None] * (rows - 1), pa.string()),
    })
    return PointBatch("migration", table, tags=("id",), fields=("lat", "note"))


def test_create_bucket_posts_name_org_id_and_retention(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend:
        info = backend.create_bucket("air", description="pm2.5", retention_ns=30 * 86400 * 10**9)
    (post,) = influx_server.calls("POST", "/api/v2/buckets")
    body = post.json()
    assert body["name"] == "air"
    assert body["orgID"] == ORG_ID
    assert body["description"] == "pm2.5"
    assert body["retentionRules"] == [{"type": "expire", "everySeconds": 2592000}]
    assert post.headers["authorization"] == "Token secret-token"
    assert influx_server.calls("GET", "/api/v2/orgs")[0].query["org"] == ["myorg"]
    assert (info.name, info.id, info.retention_ns) == ("air", BUCKET_ID, 30 * 86400 * 10**9)


def test_list_update_delete_bucket_requests(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend:
        listed = backend.list_buckets()
        updated = backend.update_bucket("alpha", new_name="beta", retention_ns=0)
        backend.delete_bucket("alpha")
    assert [b.name for b in listed] == ["alpha"]
    assert listed[0].retention_ns == 86400 * 10**9 and listed[0].description == "first"
    (patch,) = influx_server.calls("PATCH", f"/api/v2/buckets/{BUCKET_ID}")
    assert patch.json()["name"] == "beta"
    assert patch.json()["retentionRules"] == []
    assert updated.name == "beta"
    assert len(influx_server.calls("DELETE", f"/api/v2/buckets/{BUCKET_ID}")) == 1


def test_missing_bucket_is_a_clear_error(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend, pytest.raises(BackendError, match="not found"):
        backend.delete_bucket("missing")
    assert influx_server.calls("DELETE", f"/api/v2/buckets/{BUCKET_ID}") == []


def test_write_sends_line_protocol_at_ns_precision(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend:
        summary = backend.write("birds", [bird_batch()])
    (write,) = influx_server.calls("POST", "/api/v2/write")
    assert write.query["bucket"] == ["birds"]
    assert write.query["org"] == ["myorg"]
    assert write.query["precision"] == ["ns"]
    assert write.body.decode().splitlines() == [
        'migration,id=91752A lat=8.3495,note="say \\"hi\\"" 1554123600000000000',
        "migration,id=91752A lat=9.3495 1554123600000000001",
    ]
    assert summary.points_written == 2


def test_write_splits_large_batches_into_bounded_requests(influx_server: InfluxLikeServer) -> None:
    rows = LINES_PER_REQUEST + 7
    with make_backend(influx_server) as backend:
        summary = backend.write("birds", [bird_batch(rows)])
    writes = influx_server.calls("POST", "/api/v2/write")
    assert [len(w.body.decode().splitlines()) for w in writes] == [LINES_PER_REQUEST, 7]
    assert summary.points_written == rows


def test_write_error_names_status_and_server_message(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend, pytest.raises(BackendError) as caught:
        backend.write("missing", [bird_batch()])
    message = str(caught.value)
    assert "HTTP 404" in message and 'bucket "missing" not found' in message


def test_keep_first_is_refused_because_influxdb_always_keeps_last(
    influx_server: InfluxLikeServer,
) -> None:
    with make_backend(influx_server) as backend, pytest.raises(NotSupported, match="keep-first"):
        backend.write("birds", [bird_batch()], on_collision="keep-first")
    assert influx_server.calls("POST", "/api/v2/write") == []


def test_delete_sends_rfc3339_range_and_predicate(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend:
        backend.delete("birds", start_ns=0, stop_ns=1554123600000000001,
                       predicate='_measurement="migration" AND id="91752A"')
    (delete,) = influx_server.calls("POST", "/api/v2/delete")
    assert delete.query["bucket"] == ["birds"] and delete.query["org"] == ["myorg"]
    assert delete.json() == {
        "start": "1970-01-01T00:00:00.000000000Z",
        "stop": "2019-04-01T13:00:00.000000001Z",
        "predicate": '_measurement="migration" AND id="91752A"',
    }


def test_flux_query_returns_annotated_csv_and_arrow_tables(
    influx_server: InfluxLikeServer,
) -> None:
    flux = 'from(bucket: "birds") |> range(start: 0)'
    with make_backend(influx_server) as backend:
        text = backend.flux_csv(flux)
        tables = backend.flux(flux)
    posts = influx_server.calls("POST", "/api/v2/query")
    assert [p.json()["query"] for p in posts] == [flux, flux]
    assert text.startswith("#datatype,string,long") and "8.56067" in text
    assert len(tables) == 1
    assert tables[0].column("_value").to_pylist() == [8.3495, 8.56067]
    assert tables[0].column("id").to_pylist() == ["91752A", "91752A"]


def test_sql_is_not_supported_and_says_what_to_use(influx_server: InfluxLikeServer) -> None:
    with make_backend(influx_server) as backend, pytest.raises(NotSupported, match="Flux"):
        backend.sql("SELECT 1")
    assert influx_server.requests == []


def test_unreachable_server_is_a_one_line_backend_error() -> None:
    backend = InfluxDB2Backend("http://127.0.0.1:9", token="t", org="o", timeout_ms=2000)
    with backend, pytest.raises(BackendError, match="cannot reach InfluxDB"):
        backend.list_buckets()


def test_connect_picks_influxdb_when_url_in_environment(
    influx_server: InfluxLikeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFLUX_URL", influx_server.url)
    monkeypatch.setenv("INFLUX_TOKEN", "env-token")
    monkeypatch.setenv("INFLUX_ORG", "envorg")
    with connect() as backend:
        assert isinstance(backend, InfluxDB2Backend)
        backend.list_buckets()
    (get,) = influx_server.calls("GET", "/api/v2/buckets")
    assert get.query["org"] == ["envorg"]
    assert get.headers["authorization"] == "Token env-token"


def test_rfc3339_ns_keeps_nanoseconds_and_handles_negative_times() -> None:
    assert rfc3339_ns(1) == "1970-01-01T00:00:00.000000001Z"
    assert rfc3339_ns(-1) == "1969-12-31T23:59:59.999999999Z"


def test_write_line_protocol_sends_valid_lines_and_returns_bad_ones(
    influx_server: InfluxLikeServer,
) -> None:
    text = "cpu,host=a usage=1 1000\ncpu,host=a usage= 2000\n"
    with make_backend(influx_server) as backend:
        summary = backend.write_line_protocol("birds", text, precision="ns")
    (write,) = influx_server.calls("POST", "/api/v2/write")
    assert write.body.decode() == "cpu,host=a usage=1.0 1000"
    assert summary.points_written == 1 and summary.rows_rejected == 1
    assert summary.line_errors[0].line == 2


def test_connect_uses_a_profile_with_a_url(
    influx_server: InfluxLikeServer, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fluxlab.backends.config import Profile, load_config, upsert_profile

    config = load_config()
    upsert_profile(config, Profile("remote", url=influx_server.url, token="p", org="porg"),
                   activate=True).save()
    with connect() as backend:
        assert isinstance(backend, InfluxDB2Backend)
        assert backend.org == "porg"
    with connect(store=tmp_path / "local") as backend:  # --store beats the profile's url
        assert backend.kind == "embedded"
