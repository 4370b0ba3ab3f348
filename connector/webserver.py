"""How the product's web server is started: granian serving connector.wsgi (issue 11).

One definition for every place that starts it: the Docker image and docker-compose.yml
(their command lines are checked against this in tests/test_deploy_files.py), the demo,
the tests' production-shaped server and the benchmarks.

Why granian rather than gunicorn. Measured in one run of bench/bench_scale.py on this
project's 2-core box (300 tenants, 8 concurrent Web Connectors, no-change poll, the
qbwc-kit peer measured alongside): server CPU per session was 30.8 ms under gunicorn's
sync workers (0.88 ms per trivial request: every request is a new TCP connection,
parsed in Python), 23.6 ms under gunicorn's gthread workers (keep-alive) and 12.6 ms
under granian (0.32 ms per trivial request: HTTP/1.1 with keep-alive, parsed in Rust);
the peer, on uvicorn, 6.9 ms. Granian calls the WSGI app from a pool of blocking
threads per worker process, so Django, its persistent database connections and the
SOAP view's chunked reading of `wsgi.input` work as they did (granian streams the body:
the view still refuses an oversized or anonymous receiveResponseXML before reading it).

What gunicorn did that granian does not: a per-request timeout that kills the worker
(gunicorn --timeout). nginx in front still answers the client after
`proxy_read_timeout` (deploy/nginx.conf), and a blocked thread holds only itself.
"""

from __future__ import annotations

WSGI_APP = "connector.wsgi:application"


def server_args(*, host: str, port: int, workers: int | None = None, threads: int | None = None) -> list[str]:
    """granian's arguments (after `granian` or `python -m granian`) to serve the product.

    `workers` processes, each with `threads` blocking threads running Django (each thread
    keeps its own database connection); None leaves them to the environment
    (GRANIAN_WORKERS, GRANIAN_BLOCKING_THREADS: the Dockerfile sets both). HTTP/1.1 only
    and no WebSockets: nginx speaks HTTP/1.1 to its upstream, QBWC only POSTs, and
    neither protocol would be used here (granian's WebSocket path carried CVE-2026-42544,
    security-floors.txt). A worker that dies unexpectedly is started again, as gunicorn's
    arbiter did.
    """
    sizing = [] if workers is None else ["--workers", str(workers)]
    sizing += [] if threads is None else ["--blocking-threads", str(threads)]
    return [
        "--interface", "wsgi", "--host", host, "--port", str(port), *sizing,
        "--http", "1", "--no-ws", "--respawn-failed-workers", "--log-level", "warning",
        WSGI_APP,
    ]  # fmt: skip


# What the image and docker-compose run, on the port nginx proxies to. Sizing comes from
# GRANIAN_WORKERS and GRANIAN_BLOCKING_THREADS, whose defaults the Dockerfile sets to one
# process per core of a 2-core box with one thread each. Measured on such a box
# (bench_scale.py, 300 tenants, 8 concurrent Web Connectors, no-change poll, in one
# series): 2 x 1 took 12.0 ms of server CPU per session at 65.7 sessions/s, 2 x 2 13.7 ms
# at 60.8, 4 x 1 14.8 ms at 51.3, 1 x 4 12.2 ms at 53.3. More processes than cores only
# add switching: set GRANIAN_WORKERS to the machine's cores.
PRODUCTION_ARGS = server_args(host="0.0.0.0", port=8000)  # all interfaces of the container
