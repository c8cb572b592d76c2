"""A small recording HTTP server shaped like InfluxDB v2, for backend and CLI tests.

The server is real (it listens on 127.0.0.1 and speaks HTTP) and answers the few
InfluxDB v2 endpoints the backend uses with fixed, documented-shape responses, so the
tests check the requests the official client actually sends.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

ORG_ID = "0a1b2c3d4e5f6a7b"
BUCKET_ID = "1111222233334444"

QUERY_CSV = (
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,"
    "string,string\r\n"
    "#group,false,false,true,true,false,false,true,true,true\r\n"
    "#default,_result,,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,id\r\n"
    ",,0,2019-01-01T00:00:00Z,2020-01-01T00:00:00Z,2019-04-01T13:00:00Z,8.3495,lat,migration,"
    "91752A\r\n"
    ",,0,2019-01-01T00:00:00Z,2020-01-01T00:00:00Z,2019-04-01T19:00:00Z,8.56067,lat,migration,"
    "91752A\r\n\r\n"
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class InfluxLikeServer:
    url: str
    requests: list[Recorded] = field(default_factory=list)

    def calls(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]


def _bucket(name: str, retention_s: int = 0, description: str | None = None) -> dict:
    rules = [{"type": "expire", "everySeconds": retention_s}] if retention_s else []
    return {"id": BUCKET_ID, "name": name, "orgID": ORG_ID, "description": description,
            "retentionRules": rules, "type": "user"}


def _make_handler(server_state: InfluxLikeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            return

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            rec = Recorded(self.command, parts.path, parse_qs(parts.query),
                           {k.lower(): v for k, v in self.headers.items()},
                           self.rfile.read(length) if length else b"")
            server_state.requests.append(rec)
            return rec

        def _send(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: dict) -> None:
            self._send(status, json.dumps(payload).encode())

        def do_GET(self) -> None:
            rec = self._record()
            if rec.path == "/api/v2/orgs":
                self._json(200, {"orgs": [{"id": ORG_ID, "name": rec.query["org"][0]}]})
            elif rec.path == "/api/v2/buckets":
                name = rec.query.get("name", [None])[0]
                if name == "missing":
                    self._json(200, {"buckets": []})
                else:
                    self._json(200, {"buckets": [_bucket(name or "alpha", 86400, "first")]})
            else:
                self._json(404, {"code": "not found", "message": f"no route {rec.path}"})

        def do_POST(self) -> None:
            rec = self._record()
            if rec.path == "/api/v2/buckets":
                body = rec.json()
                rules = body.get("retentionRules") or []
                seconds = rules[0]["everySeconds"] if rules else 0
                self._json(201, _bucket(body["name"], seconds, body.get("description")))
            elif rec.path == "/api/v2/write":
                if rec.query.get("bucket") == ["missing"]:
                    self._json(404, {"code": "not found", "message": 'bucket "missing" not found'})
                else:
                    self._send(204)
            elif rec.path == "/api/v2/delete":
                self._send(204)
            elif rec.path == "/api/v2/query":
                self._send(200, QUERY_CSV.encode(), "text/csv; charset=utf-8")
            else:
                self._json(404, {"code": "not found", "message": f"no route {rec.path}"})

        def do_PATCH(self) -> None:
            rec = self._record()
            body = rec.json()
            rules = body.get("retentionRules") or []
            seconds = rules[0]["everySeconds"] if rules else 0
            self._json(200, _bucket(body.get("name") or "alpha", seconds, body.get("description")))

        def do_DELETE(self) -> None:
            self._record()
            self._send(204)

    return Handler


@contextmanager
def running_server() -> Iterator[InfluxLikeServer]:
    """Serve on 127.0.0.1 (random port) until the block ends."""
    state = InfluxLikeServer(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
