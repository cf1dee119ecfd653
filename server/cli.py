"""`hailong`: the command line for servers, cron jobs and administrators.

Every command works from any working directory and answers bad input with one line on stderr and a non-zero
exit status, never a traceback.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import sqlalchemy as sa
import typer
from alembic import command as alembic_command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from server import PROJECT_ROOT
from server.config import Settings
from server.db import DatabaseUnavailable, check_database, make_engine, safe_url, session_scope
from server.errors import AppError
from server.models import Unit

app = typer.Typer(
    name="hailong",
    help="Hài Lòng: citizen-satisfaction ratings at one-stop service desks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
units_app = typer.Typer(help="Units (the organisation tree).", no_args_is_help=True)
counters_app = typer.Typer(help="Counters of units.", no_args_is_help=True)
user_app = typer.Typer(help="People who log in.", no_args_is_help=True)
apikey_app = typer.Typer(help="Keys for other systems.", no_args_is_help=True)
targets_app = typer.Typer(help="Targets (milestones) of the satisfaction indices.", no_args_is_help=True)
rollup_app = typer.Typer(help="Pre-aggregated counts behind the indices.", no_args_is_help=True)
dossiers_app = typer.Typer(help="Dossiers from the one-stop electronic system.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(units_app, name="units")
app.add_typer(counters_app, name="counters")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(targets_app, name="targets")
app.add_typer(rollup_app, name="rollup")
app.add_typer(dossiers_app, name="dossiers")


class CliError(Exception):
    """A failure to report as one line."""


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line error."""
    raise CliError(message)


def load_settings() -> Settings:
    """Settings from the environment, with configuration errors as one line."""
    try:
        return Settings()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid setting")).removeprefix("Value error, ")
        fail(f"configuration: {where + ': ' if where else ''}{message}")


def connect(settings: Settings) -> Engine:
    """An engine whose database answers (a clear error otherwise)."""
    engine = make_engine(settings.database_url)
    check_database(engine)
    return engine


def alembic_config(settings: Settings) -> AlembicConfig:
    """Alembic configured for this checkout's migrations and the settings' database, from any directory."""
    cfg = AlembicConfig(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    return cfg


def ensure_migrated(engine: Engine, settings: Settings) -> None:
    """Refuse to work on a database whose schema is not at the latest migration."""
    heads = set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        fail(f"the database at {safe_url(engine.url)} is not migrated to the latest schema; run `hailong db upgrade`")


def read_input_file(path: Path) -> bytes:
    """The bytes of an input file, or a one-line error."""
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")


def progress_bar() -> Progress:
    """The progress bar long commands show (on stderr, so stdout stays clean for scripts)."""
    from rich.console import Console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


#: uvicorn's default is 5 s. Its supervisor pings every worker twice a second and kills one that has not answered
#: in time; on a busy 2-core machine a worker starved of CPU (load 10 and more in `python -m bench.soak`) missed it
#: and was killed with every request it held, and its replacement spent seconds of CPU importing the app: overload
#: made worse. A hung worker is still replaced, after this long.
WORKER_HEALTHCHECK_TIMEOUT = 60


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
    engine = connect(settings)
    ensure_migrated(engine, settings)
    engine.dispose()
    if workers > 1 and settings.is_sqlite:
        typer.echo("hailong: note: several workers on SQLite serialise writes; use PostgreSQL in production", err=True)
    typer.echo(f"Hài Lòng on http://{host}:{port}  (database: {safe_url(settings.database_url)})", err=True)
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


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations to DATABASE_URL (creates the SQLite file when needed)."""
    settings = load_settings()
    connect(settings).dispose()
    alembic_command.upgrade(alembic_config(settings), revision)
    typer.echo(f"database at {safe_url(settings.database_url)} is at {revision}", err=True)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision, e.g. base or -1")]) -> None:
    """Revert migrations (destroys data in the tables they drop)."""
    settings = load_settings()
    connect(settings).dispose()
    alembic_command.downgrade(alembic_config(settings), revision)


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision."""
    settings = load_settings()
    engine = connect(settings)
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    typer.echo(", ".join(heads) or "(empty: run `hailong db upgrade`)")


@app.command("seed-demo")
def seed_demo_command(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and end month give the same data")] = 1,
    end_month: Annotated[str | None, typer.Option(help="Last month of data, YYYY-MM (default: this month)")] = None,
    months: Annotated[int, typer.Option(min=1, max=60, help="How many months of ratings")] = 12,
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when the database has units")] = False,
) -> None:
    """Load demo units, counters, officers and about a year of ratings."""
    from server.demo import seed_demo

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    today = date.today()
    if end_month:
        try:
            year, month = (int(p) for p in end_month.split("-"))
            end = date(year, month, 1)
        except ValueError:
            fail(f"--end-month must look like 2026-10, not {end_month!r}")
    else:
        end = date(today.year, today.month, 1)
    with Session(engine) as probe:
        has_units = probe.exec(select(Unit.id).limit(1)).first() is not None
    if has_units:
        if if_empty:
            typer.echo("demo data: the database already has units; nothing to do", err=True)
            return
        fail("the database already has units; seed-demo only fills an empty database (use --if-empty to skip)")
    if settings.environment == "production":
        fail("seed-demo makes demo logins with a published password; it refuses HAILONG_ENVIRONMENT=production")
    with progress_bar() as bar, session_scope(engine) as session:
        task = bar.add_task("demo ratings", total=None)
        summary = seed_demo(
            session=session,
            seed=seed,
            end_month=end,
            months=months,
            tz=settings.tz,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    typer.echo(
        f"demo data: {summary.units} units, {summary.counters} counters, {summary.officers} officers, "
        f"{summary.ratings} ratings, {summary.visits} visits"
    )
    from server.demo import DEMO_PASSWORD

    for username, role, scope in summary.users:
        typer.echo(f"demo login: {username} / {DEMO_PASSWORD} ({role}, {scope})")


@units_app.command("import")
def units_import(file: Annotated[Path, typer.Argument(help="CSV with columns code,name,parent_code,level")]) -> None:
    """Create or update units from a CSV file (all or nothing)."""
    from server.units.service import import_units

    settings = load_settings()
    data = read_input_file(file)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        result = import_units(session=session, data=data)
    typer.echo(f"units: {result.created} created, {result.updated} updated")


@counters_app.command("import")
def counters_import(file: Annotated[Path, typer.Argument(help="CSV with columns code,unit_code,name")]) -> None:
    """Create or update counters from a CSV file (all or nothing)."""
    from server.units.service import import_counters

    settings = load_settings()
    data = read_input_file(file)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        result = import_counters(session=session, data=data)
    typer.echo(f"counters: {result.created} created, {result.updated} updated")


@dossiers_app.command("import")
def dossiers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: code,unit,received_at,due_at and optionally field,procedure_code,completed_at,status"
        ),
    ],
) -> None:
    """Create or update dossiers from the one-stop system's export: the whole file is checked first (a bad line
    imports nothing), then written in chunks of 1,000, each its own short transaction."""
    from server.dossiers.service import CHUNK, check_csv, import_rows

    settings = load_settings()
    data = read_input_file(file)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        rows = check_csv(session=session, data=data)
    with progress_bar() as bar:
        task = bar.add_task(f"dossiers ({CHUNK:,} a transaction)", total=len(rows))
        result = import_rows(
            session_factory=lambda: session_scope(engine),
            rows=rows,
            tz=settings.tz,
            progress=lambda done: bar.update(task, completed=done),
        )
    typer.echo(f"dossiers: {result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="admin | manager | officer")],
    unit: Annotated[str | None, typer.Option(help="Unit code (the user sees this unit and its subtree)")] = None,
    officer: Annotated[str | None, typer.Option(help="Officer code, for an officer's own figures")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
) -> None:
    """Create a login; asks for the password twice, or reads one line from stdin."""
    from server.auth.service import create_user
    from server.models import Officer
    from server.units.service import get_unit

    settings = load_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        unit_row = get_unit(session=session, code=unit) if unit else None
        officer_row = None
        if officer:
            officer_row = session.exec(select(Officer).where(Officer.code == officer)).first()
            if officer_row is None:
                fail(f"unknown officer {officer!r}")
        user = create_user(
            session=session, username=username, password=password, role=role, unit=unit_row, officer=officer_row
        )
    typer.echo(f"user {user.username} ({user.role}) created")


@apikey_app.command("create")
def apikey_create(
    kind: Annotated[str, typer.Option(help="visits (register visits) | read (indices and exports)")],
    unit: Annotated[str, typer.Option(help="Unit code: the key covers this unit and its subtree")],
    label: Annotated[str, typer.Option(help="A note to tell keys apart")] = "",
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from server.auth.service import audit, create_api_key
    from server.units.service import get_unit

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        row, key = create_api_key(session=session, kind=kind, unit=get_unit(session=session, code=unit), label=label)
        audit(session=session, actor="cli", action="apikey.create", target=f"{row.kind}:{row.prefix}", detail=unit)
    typer.echo(key)


@targets_app.command("list")
def targets_list() -> None:
    """Print every milestone: group, first year, threshold."""
    from server.indices.targets import list_targets

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        lines = list_targets(session=session)
    typer.echo(f"{'group':<18} {'from':>4}  threshold")
    for line in lines:
        typer.echo(f"{line.group:<18} {line.year_from:>4}  {line.threshold:.4g} ({line.threshold * 100:.4g} %)")


@targets_app.command("set")
def targets_set(
    group: Annotated[str, typer.Option(help="Target group code: all, lci, health_education")],
    year: Annotated[int, typer.Option(help="First year the milestone applies to")],
    threshold: Annotated[float, typer.Option(help="Fraction above 0 and at most 1 (0.8 for 80 %)")],
) -> None:
    """Set (or change) a group's milestone from a year on."""
    from server.indices.targets import set_target

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        previous = set_target(session=session, group=group, year=year, threshold=threshold)
    change = "new" if previous is None else f"was {previous:.4g}"
    typer.echo(f"target {group} from {year}: {threshold:.4g} ({change})")


@rollup_app.command("rebuild")
def rollup_rebuild(
    show: Annotated[int, typer.Option(min=0, help="Differences to list one per line (the totals count all)")] = 50,
) -> None:
    """Recount the rollups from the raw ratings, month by month, and fix every key that differs."""
    from server.indices.rollups import describe, rebuild

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with progress_bar() as bar, session_scope(engine) as session:
        task = bar.add_task("months checked", total=None)
        report = rebuild(
            session=session,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            after_month=session.commit,
        )
        lines = describe(session, report.differences[:show])
    for line in lines:
        typer.echo(line)
    if report.fixed > len(lines):
        typer.echo(f"… and {_plural(report.fixed - len(lines), 'more difference')}")
    for table, totals in report.totals.items():
        if totals.keys:
            typer.echo(f"{table}: {_plural(totals.keys, 'key')} fixed (+{totals.added} / -{totals.removed} counted)")
    summary = f"checked {_plural(report.months, 'month')}, {_plural(report.ratings, 'rating')}"
    if report.fixed:
        typer.echo(f"{summary}: {_plural(report.fixed, 'key')} differed and were fixed")
    else:
        typer.echo(f"{summary}: the rollups match the ratings, nothing to fix")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


# --- Kiosks (issue 3) --------------------------------------------------------------------------------------------


@app.command()
def kiosk(
    server: Annotated[str | None, typer.Option(help="Central server URL (HAILONG_KIOSK_SERVER_URL)")] = None,
    host: Annotated[str | None, typer.Option(help="Address of the touch UI (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port of the touch UI (default 8001)")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Directory of the kiosk's outbox (default var/kiosk)")] = None,
    pin: Annotated[str | None, typer.Option(help="Staff PIN of the status screen (HAILONG_KIOSK_PIN)")] = None,
    pair: Annotated[str | None, typer.Option(metavar="CODE", help="Exchange this pairing code first")] = None,
    pair_wait: Annotated[float, typer.Option(min=0, help="Seconds to keep trying to reach the server")] = 0.0,
    pair_only: Annotated[bool, typer.Option("--pair-only", help="Pair, then exit")] = False,
) -> None:
    """Run the touch-screen kiosk app at a counter (offline first; forwards ratings to --server)."""
    args = []
    for flag, value in (
        ("--server", server),
        ("--host", host),
        ("--port", port),
        ("--data-dir", data_dir),
        ("--pin", pin),
        ("--pair", pair),
    ):
        if value is not None:
            args += [flag, str(value)]
    if pair_wait:
        args += ["--pair-wait", str(pair_wait)]
    if pair_only:
        args.append("--pair-only")
    run_kiosk_process(args)


def run_kiosk_process(args: list[str]) -> NoReturn:
    """Replace this process with `python -m kiosk` (the kiosk never loads the central server's modules)."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    env = dict(os.environ)  # the checkout on the path: `kiosk` imports from any working directory
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    os.execve(sys.executable, [sys.executable, "-m", "kiosk", *args], env)


@app.command("demo-kiosk")
def demo_kiosk(
    counter: Annotated[str, typer.Option(help="Demo counter to pair with")] = "BMT-Q01",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the demo kiosk")] = 8001,
    server: Annotated[str, typer.Option(help="The central server it forwards to")] = "http://127.0.0.1:8000",
    data_dir: Annotated[Path, typer.Option(help="The demo kiosk's outbox")] = PROJECT_ROOT / "var" / "demo-kiosk",
) -> None:
    """Run a demo kiosk paired to a demo counter (pairs itself on first start, through the real endpoint)."""
    from kiosk.outbox import Outbox
    from server.kiosks.service import create_pairing_code

    outbox = Outbox(data_dir / "outbox.db")
    paired = outbox.get("token") is not None and outbox.get("revoked") != "1"
    outbox.close()
    args = ["--server", server, "--port", str(port), "--data-dir", str(data_dir)]
    if not paired:
        settings = load_settings()
        engine = connect(settings)
        ensure_migrated(engine, settings)
        with session_scope(engine) as session:
            code, _ = create_pairing_code(session=session, counter_code=counter, settings=settings)
        engine.dispose()
        args += ["--pair", code, "--pair-wait", "60"]
    typer.echo(
        f"demo kiosk: http://127.0.0.1:{port}  (counter {counter}; staff screen: hold the top-left "
        "corner 3 s, PIN 1234)",
        err=True,
    )
    run_kiosk_process(args)


@app.command("pairing-code")
def pairing_code(
    counter: Annotated[str, typer.Option(help="Code of the counter the kiosk stands at")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the code")] = False,
) -> None:
    """Print a single-use code that pairs a kiosk with a counter (only its hash is stored)."""
    from server.auth.service import audit
    from server.kiosks.service import create_pairing_code

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        code, expires_at = create_pairing_code(session=session, counter_code=counter, settings=settings)
        audit(session=session, actor="cli", action="kiosk.pairing_code", target=counter)
    if quiet:
        typer.echo(code)
        return
    local = expires_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    typer.echo(code)
    typer.echo(
        f"pairing code for counter {counter}, single use, valid until {local} ({settings.timezone}); enter it on "
        "the kiosk's set-up screen or run `hailong kiosk --server URL --pair CODE`",
        err=True,
    )


@app.command("kiosk-list")
def kiosk_list() -> None:
    """List paired kiosks: counter, last contact, outbox backlog, clock offset and ratings delivered."""
    from server.kiosks.service import list_devices

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with Session(engine) as session:
        devices = list_devices(session=session)
    if not devices:
        typer.echo("no kiosks are paired; make a code with `hailong pairing-code --counter CODE`", err=True)
        return

    def when(at: object) -> str:
        return at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M") if hasattr(at, "astimezone") else "-"

    typer.echo("id\tcounter\tstate\tlast seen\tbacklog\tclock offset s\tversion\tratings")
    for d in devices:
        state = "revoked" if d.revoked_at else ("clock!" if d.clock_flagged else "live")
        offset = "-" if d.clock_offset_seconds is None else f"{d.clock_offset_seconds:+.0f}"
        typer.echo(
            f"{d.id}\t{d.counter}\t{state}\t{when(d.last_seen_at)}\t{d.backlog}\t{offset}\t"
            f"{d.app_version or '-'}\t{d.ratings}"
        )


@app.command("kiosk-revoke")
def kiosk_revoke(
    device: Annotated[int | None, typer.Option(help="Device id (see `hailong kiosk-list`)")] = None,
    counter: Annotated[str | None, typer.Option(help="Revoke every live kiosk of this counter")] = None,
) -> None:
    """Revoke kiosk device tokens: the kiosk shows "out of service" and keeps its ratings until re-paired."""
    from server.auth.service import audit
    from server.kiosks.service import revoke_devices

    settings = load_settings()
    engine = connect(settings)
    ensure_migrated(engine, settings)
    with session_scope(engine) as session:
        n = revoke_devices(session=session, device_id=device, counter_code=counter)
        if n == 0:
            fail("no live kiosk matched; see `hailong kiosk-list`")
        audit(session=session, actor="cli", action="kiosk.revoke", target=str(device or counter))
    typer.echo(f"{n} kiosk(s) revoked")


@app.command("export")
def export_command(
    unit: Annotated[str, typer.Option(help="Unit code; the report covers its whole subtree")],
    output: Annotated[Path, typer.Option("-o", "--output", help="File to write (the format follows its suffix)")],
    month: Annotated[str | None, typer.Option(help="The month, YYYY-MM")] = None,
    period: Annotated[str | None, typer.Option(help="Instead of --month: YYYY-MM, YYYY-Qn or YYYY")] = None,
    format: Annotated[str | None, typer.Option("--format", help="csv | xlsx | pdf (default: from -o)")] = None,
    lang: Annotated[str, typer.Option(help="vi | en (XLSX and PDF)")] = "vi",
) -> None:
    """Write a unit's monthly (quarterly, yearly) report as CSV, XLSX or PDF: the figures of the dashboard."""
    from server.exports.cli import run_export

    settings = load_settings()
    fmt = (format or output.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "xlsx", "pdf"):
        fail(f"--format must be csv, xlsx or pdf (got {fmt or 'nothing'!r}; or give -o a .csv/.xlsx/.pdf name)")
    if lang not in ("vi", "en"):
        fail(f"--lang must be vi or en, not {lang!r}")
    engine = connect(settings)
    ensure_migrated(engine, settings)
    written = run_export(
        engine=engine,
        settings=settings,
        unit_code=unit,
        month=month,
        period=period,
        fmt=fmt,
        lang=lang,
        output=output,
        fail=fail,
    )
    typer.echo(f"wrote {output} ({written} bytes)")


# --- Petitions (issue 15): `hailong calendar`, `petitions purge`, `notify` (server/petitions/cli.py) ---


def _add_petition_commands() -> None:
    from server.petitions.cli import calendar_app, notify_app, petitions_app

    app.add_typer(calendar_app, name="calendar")
    app.add_typer(petitions_app, name="petitions")
    app.add_typer(notify_app, name="notify")


_add_petition_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `hailong` script: run a command, turning every failure into one line."""
    try:
        result = app(args=argv, prog_name="hailong", standalone_mode=False)
    except typer.Abort:
        _die("aborted", 130)
    except typer.TyperException as exc:  # typer's own click: usage errors, bad parameters, missing options
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None and ctx.command_path else ""
        _die(" ".join(message.split()) + hint, int(getattr(exc, "exit_code", 2) or 2))
    except (CliError, DatabaseUnavailable) as exc:
        _die(str(exc), 1)
    except AppError as exc:
        _die(exc.message, 1)
    except sa.exc.SQLAlchemyError as exc:
        _die("database error: " + str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], 1)
    except KeyboardInterrupt:
        _die("interrupted", 130)
    sys.exit(result if isinstance(result, int) else 0)


def _die(message: str, status: int) -> NoReturn:
    print(f"hailong: error: {message}", file=sys.stderr)
    sys.exit(status)


if __name__ == "__main__":
    main()
