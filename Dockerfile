FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
# The product apps only: peers/ (simulator, emulator) and devtools/ (demo) stay out of the image.
COPY connector ./connector
COPY tenants ./tenants
COPY qbwc ./qbwc
COPY procore_sync ./procore_sync
COPY audit ./audit
COPY alerts ./alerts
COPY templates ./templates
COPY manage.py ./
RUN pip install --no-cache-dir . && useradd --create-home connector && mkdir -p /app/var && chown connector /app/var
# issue 12b: PROMETHEUS_MULTIPROC_DIR; a new named volume mounted here takes this owner.
RUN mkdir -p /var/lib/ml-connector/metrics && chown connector /var/lib/ml-connector/metrics
USER connector
EXPOSE 8000
# Web server sizing (connector/webserver.py): one worker process per core, one thread each.
ENV GRANIAN_WORKERS=2 GRANIAN_BLOCKING_THREADS=1
# connector/webserver.py PRODUCTION_ARGS (tests/test_deploy_files.py checks they match).
CMD ["granian", "--interface", "wsgi", "--host", "0.0.0.0", "--port", "8000", "--http", "1", "--no-ws", "--respawn-failed-workers", "--log-level", "warning", "connector.wsgi:application"]
