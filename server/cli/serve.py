"""`hailong serve`: the central server."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from server.cli.core import app, load_settings, migrated_engine
from server.db import safe_url
from server.terminal import echo

#: uvicorn's default is 5 s. Its supervisor pings every worker twice a second and kills one that has not answered
#: in time; on a busy 2-core machine a worker starved of CPU (load 10 and more in `python -m bench.soak`) missed it
#: and was killed with every request it held, and its replacement spent seconds of CPU importing the app: overload
#: made worse. A hung worker is still replaced, after this long.
WORKER_HEALTHCHECK_TIMEOUT = 60


def listening_url(host: str, port: int) -> str:
    """The address `hailong serve --host H --port P` listens on, as a base URL (a wildcard host becomes loopback:
    set HAILONG_PUBLIC_BASE_URL to the address phones reach)."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (PostgreSQL for more than 1)")] = 1,
    worker_healthcheck_timeout: Annotated[
        int,
        typer.Option(
            min=1,
            max=3600,
            help="Seconds a worker may take to answer the supervisor's ping before it is killed and replaced",
        ),
    ] = WORKER_HEALTHCHECK_TIMEOUT,
) -> None:
    """Run the central server."""
    import uvicorn

    settings = load_settings()
    migrated_engine(settings).dispose()
    if "public_base_url" not in settings.model_fields_set:
        # Unset (neither the environment nor .env): links and QR codes point where this server listens. The
        # workers build their settings from the environment, so they are told through it.
        os.environ["HAILONG_PUBLIC_BASE_URL"] = listening_url(host, port)
        settings = load_settings()
    if workers > 1 and settings.is_sqlite:
        echo("hailong: note: several workers on SQLite serialise writes; use PostgreSQL in production", err=True)
    echo(f"Hài Lòng on http://{host}:{port}  (database: {safe_url(settings.database_url)})", err=True)
    echo(f"Rating links and QR codes: {settings.public_base_url}/r/…", err=True)
    uvicorn.run(
        "server.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        timeout_worker_healthcheck=worker_healthcheck_timeout,
        proxy_headers=True,
        log_level="info",
    )
