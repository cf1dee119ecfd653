"""`hailong`: the command line for servers, cron jobs and administrators.

Every command works from any working directory and answers bad input with one line on stderr and a non-zero
exit status, never a traceback.

The rule of this package: core.py holds what every command shares (the app, `fail`, `open_session`, files, the
progress bar, `main`); each other module holds the commands of one domain and calls that domain's services, which
know nothing of the command line. Importing a module registers its commands.
"""

from __future__ import annotations

from importlib import import_module

from server.cli.core import app, main

#: The command modules, in the order of `hailong --help` (typer lists the commands first, then the groups, each in
#: the order they were added).
COMMAND_MODULES = (
    "serve",  # serve
    "demo",  # seed-demo
    "kiosks",  # kiosk, demo-kiosk, pairing-code, kiosk-list, kiosk-revoke
    "exports",  # export
    "appraisal",  # appraisal
    "db",  # db upgrade | downgrade | current
    "units",  # units import, counters import
    "users",  # user create, apikey create
    "indices",  # targets list | set, rollup rebuild
    "dossiers",  # dossiers import
    "petitions",  # calendar, petitions purge, notify
)
for _name in COMMAND_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = ["app", "main"]
