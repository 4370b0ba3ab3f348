"""The lean peer bench_scale.py measures the product against: a minimal QBWC server on qbwc-kit.

Runs only in the bench's own virtualenv (qbwc-kit, fastapi, uvicorn, psycopg, plus lxml and
orjson for our pure qbXML builder); qbwc-kit is never a product dependency:

    python3.11 -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install qbwc-kit fastapi uvicorn 'psycopg[binary]' lxml orjson
    /tmp/bench-venv/bin/python bench/peer_qbwc_kit.py --port 8123 --db postgres://…/db

What it does, per session, as a lean server would: one authenticate (a SELECT of the
login's stored HMAC-SHA-256, compared in constant time: the cheap check a generated machine
secret allows), then the same four queries as the product (vendors, bills, deleted bills,
deleted vendors; the qbXML text comes from the product's pure builder so QuickBooks is asked
exactly the same), each task reading its watermark before its request and upserting it
after an answer: 8 statements per no-change session, autocommit, one connection per thread.
Sessions live in qbwc-kit's in-process store (it has no other), so this peer runs as one
uvicorn process.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sys
import threading
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_KEY = b"peer-bench-server-key"
SCHEMA = """
CREATE TABLE IF NOT EXISTS peer_login (username text PRIMARY KEY, secret_hmac text NOT NULL);
CREATE TABLE IF NOT EXISTS peer_watermark (
    username text NOT NULL, query text NOT NULL, mark timestamptz NOT NULL, PRIMARY KEY (username, query)
);
"""


def secret_hmac(secret: str) -> str:
    return hmac.new(SERVER_KEY, secret.encode(), hashlib.sha256).hexdigest()


def peer_setup(db_url: str, usernames: list[str], secret: str) -> None:
    """Create the peer's two tables and its logins (called by the bench, any venv with psycopg)."""
    import psycopg

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO peer_login VALUES (%s, %s) ON CONFLICT (username) DO NOTHING",
                [(u, secret_hmac(secret)) for u in usernames],
            )


def main() -> None:
    import psycopg
    import uvicorn
    from qbwc_kit import QBWCService
    from qbwc_kit.server import create_app

    from qbwc import qbxml  # pure: only the qbXML text of the four queries

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    args = p.parse_args()

    local = threading.local()

    def db() -> psycopg.Connection[Any]:
        conn = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = local.conn = psycopg.connect(args.db, autocommit=True)
        return conn

    class Query:
        def __init__(self, kind: qbxml.QueryKind, username: str) -> None:
            self.name, self.kind, self.username = kind, kind, username

        def run(self, ctx: Any) -> Generator[str, Any, None]:
            row = (
                db()
                .execute(
                    "SELECT mark FROM peer_watermark WHERE username = %s AND query = %s", (self.username, self.kind)
                )
                .fetchone()
            )
            started = datetime.now(UTC)
            since = row[0] - timedelta(minutes=10) if row else None
            response = yield qbxml.build_query(self.kind, request_id="1", version="13.0", since=since, max_returned=500)
            response.first()  # qbwc-kit parsed it; an empty answer (status 1) is fine
            db().execute(
                "INSERT INTO peer_watermark VALUES (%s, %s, %s) "
                "ON CONFLICT (username, query) DO UPDATE SET mark = EXCLUDED.mark",
                (self.username, self.kind, started),
            )

    class Logins:
        def authenticate(self, username: str, password: str) -> bool:
            row = db().execute("SELECT secret_hmac FROM peer_login WHERE username = %s", (username,)).fetchone()
            expected = row[0] if row else "0" * 64  # unknown users cost the same
            return hmac.compare_digest(secret_hmac(password), expected) and row is not None

        def tasks_for(self, username: str) -> list[Query]:
            kinds: tuple[qbxml.QueryKind, ...] = ("vendors", "bills", "bill_deletions", "vendor_deletions")
            return [Query(k, username) for k in kinds]

    service = QBWCService(authenticator=Logins())
    app = create_app(service, endpoint_url=f"http://127.0.0.1:{args.port}/qbwc/", path="/qbwc/")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
