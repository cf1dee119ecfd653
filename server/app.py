"""The central server's application factory: `create_app(settings)` builds everything, nothing at import time."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from server import __version__
from server.admin.publication import router as publication_router
from server.admin.routes import router as admin_router
from server.admission import AdmissionLimitMiddleware
from server.appraisal.pages import router as appraisal_pages_router
from server.appraisal.routes import exports_router as appraisal_exports_router
from server.appraisal.routes import router as appraisal_router
from server.auth.deps import install_auth_handlers
from server.auth.routes import router as auth_router
from server.cache import TimedCache
from server.config import Settings
from server.dashboard.routes import router as dashboard_router
from server.db import make_engine, open_pool
from server.dossiers.routes import router as dossiers_router
from server.errors import document_errors_in_openapi, install_error_handlers
from server.exports.routes import router as exports_router
from server.hardening import BodySizeLimitMiddleware, install_log_redaction
from server.health.routes import router as health_router
from server.i18n import LanguageCookieMiddleware
from server.indices.routes import router as indices_router
from server.ingest.references import ReferenceCache
from server.ingest.routes import router as ingest_router
from server.kiosks.routes import router as kiosks_router
from server.petitions.api import router as petitions_api_router
from server.petitions.public import router as petitions_public_router
from server.petitions.routes import router as petitions_router
from server.petitions.sender import run_sender
from server.phone.routes import router as phone_router
from server.public.routes import PublicCacheMiddleware, warm_up_public_page
from server.public.routes import router as public_router
from server.renderers import RenderPool
from server.scores.dashboard import router as scores_dashboard_router
from server.scores.routes import router as scores_router
from server.security import SecurityHeadersMiddleware
from server.templating import make_templates
from server.visits.console import router as console_router
from server.visits.routes import router as visits_router

STATIC_DIR = Path(__file__).resolve().parent / "static"

API_DESCRIPTION = """
Citizen-satisfaction ratings from one-stop service desks (kiosks and phones), visits, and satisfaction indices.

All times are ISO 8601 with an offset. **Periods (days, months, quarters, years) are counted in the reporting
time zone, Asia/Ho_Chi_Minh (UTC+7)**: a rating at 23:30 on the 31st local time belongs to that month.
Rates are fractions 0..1. Errors are JSON `{"detail": "..."}` with a 4xx status.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the central app for `settings` (read from the environment when omitted)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url, pool_size=settings.db_pool_size)
        app.state.engine = engine
        # /healthz has a connection of its own on PostgreSQL: it must answer while every pooled one is busy.
        health_engine = engine if settings.is_sqlite else make_engine(settings.database_url, pool_size=1)
        app.state.health_engine = health_engine
        if getattr(app.state, "open_pool_at_start", False):
            if not settings.is_sqlite:
                await anyio.to_thread.run_sync(open_pool, engine, settings.db_pool_size)
            # A worker's first public page otherwise pays its code paths' first run (statements compiled, plans,
            # templates, formats): one page answered in process before the worker serves.
            await warm_up_public_page(app)
        async with anyio.create_task_group() as tasks:
            if settings.notify_interval_seconds > 0:  # notifications and the daily contact purge (server/petitions)
                tasks.start_soon(run_sender, engine, settings)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()
                app.state.renderer.close()  # waits for a render under way (shutting down: nothing else to serve)
                engine.dispose()
                health_engine.dispose()

    app = FastAPI(
        title="Hài Lòng",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.templates = make_templates()
    app.state.renderer = RenderPool(settings.render_processes)  # XLSX and PDF files (started on the first)
    app.state.dashboard_cache = TimedCache(settings.dashboard_cache_seconds)
    app.state.reference_cache = TimedCache(settings.reference_cache_seconds, max_entries=8)
    app.state.field_order_cache = TimedCache(settings.field_order_cache_seconds, max_entries=4096)
    # The public pages and open data, rendered (server/public/routes.py).
    app.state.public_cache = TimedCache(settings.public_cache_seconds, max_entries=1024)
    app.state.public_answers = TimedCache(settings.public_cache_seconds, max_entries=1024)
    # The codes a kiosk batch may use (server/ingest/references.py: read again at once for a code it lacks).
    app.state.ingest_reference = ReferenceCache(settings.reference_cache_seconds)
    install_error_handlers(app)
    install_auth_handlers(app)
    app.add_middleware(PublicCacheMiddleware, state=app.state)  # warm public answers before routing
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(LanguageCookieMiddleware)
    # Bodies are read (timed) before a request is admitted; at most as many requests inside as the pool has
    # connections (server/db.py); SQLite has one writer anyway. The size caps come first (outermost).
    limit = None if settings.is_sqlite else settings.db_pool_size
    app.add_middleware(AdmissionLimitMiddleware, limit=limit, body_timeout=settings.body_timeout_seconds)
    app.add_middleware(BodySizeLimitMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    app.include_router(health_router)
    app.include_router(visits_router)
    app.include_router(console_router)
    app.include_router(phone_router)
    app.include_router(indices_router)
    app.include_router(appraisal_router)
    app.include_router(appraisal_exports_router)
    app.include_router(appraisal_pages_router)
    app.include_router(ingest_router)
    app.include_router(kiosks_router)
    app.include_router(auth_router)
    app.include_router(dashboard_router)
    app.include_router(exports_router)
    app.include_router(admin_router)
    app.include_router(publication_router)
    app.include_router(public_router)
    app.include_router(petitions_api_router)
    app.include_router(petitions_public_router)
    app.include_router(petitions_router)
    app.include_router(dossiers_router)
    app.include_router(scores_router)
    app.include_router(scores_dashboard_router)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return app.state.templates.TemplateResponse(request, "docs.html", {})

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        links = [("/login", "Đăng nhập"), ("/healthz", "Trạng thái hệ thống"), ("/docs", "Tài liệu API")]
        return app.state.templates.TemplateResponse(request, "home.html", {"links": links})

    document_errors_in_openapi(app)
    install_log_redaction()
    logging.getLogger("hailong").setLevel(logging.INFO)
    return app


def create_app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (several workers each build their own app from the environment)."""
    app = create_app(Settings())
    # Compile every page template now, not on the first requests that need them: a worker's first minute otherwise
    # serves its first citizens, kiosks and managers while compiling (~50 templates).
    env = app.state.templates.env
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    # Likewise the database connections (PostgreSQL): opened when the worker starts, not in its first minute.
    app.state.open_pool_at_start = True
    # Move everything loaded at start-up (modules, mappers, schemas) out of the garbage collector's sight: a full
    # collection otherwise walks that whole heap, which doubled the time of national reports (docs/BENCHMARKS.md).
    gc.collect()
    gc.freeze()
    return app
