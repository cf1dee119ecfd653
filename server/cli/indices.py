"""`hailong targets list | set`, `hailong rollup rebuild`: the indices' milestones and pre-aggregated counts."""

from __future__ import annotations

from typing import Annotated

import typer

from server.cli.core import app, open_session, progress_bar
from server.terminal import echo

targets_app = typer.Typer(help="Targets (milestones) of the satisfaction indices.", no_args_is_help=True)
rollup_app = typer.Typer(help="Pre-aggregated counts behind the indices.", no_args_is_help=True)
app.add_typer(targets_app, name="targets")
app.add_typer(rollup_app, name="rollup")


@targets_app.command("list")
def targets_list() -> None:
    """Print every milestone: group, first year, threshold."""
    from server.indices.targets import list_targets

    with open_session() as session:
        lines = list_targets(session=session)
    echo(f"{'group':<18} {'from':>4}  threshold")
    for line in lines:
        echo(f"{line.group:<18} {line.year_from:>4}  {line.threshold:.4g} ({line.threshold * 100:.4g} %)")


@targets_app.command("set")
def targets_set(
    group: Annotated[str, typer.Option(help="Target group code: all, lci, health_education")],
    year: Annotated[int, typer.Option(help="First year the milestone applies to")],
    threshold: Annotated[float, typer.Option(help="Fraction above 0 and at most 1 (0.8 for 80 %)")],
) -> None:
    """Set (or change) a group's milestone from a year on."""
    from server.indices.targets import set_target

    with open_session() as session:
        previous = set_target(session=session, group=group, year=year, threshold=threshold)
    change = "new" if previous is None else f"was {previous:.4g}"
    echo(f"target {group} from {year}: {threshold:.4g} ({change})")


@rollup_app.command("rebuild")
def rollup_rebuild(
    show: Annotated[int, typer.Option(min=0, help="Differences to list one per line (the totals count all)")] = 50,
) -> None:
    """Recount the rollups from the raw ratings, month by month, and fix every key that differs."""
    from server.indices.rollups import describe, rebuild

    with open_session() as session, progress_bar() as bar:
        task = bar.add_task("months checked", total=None)
        report = rebuild(
            session=session,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            after_month=session.commit,
        )
        lines = describe(session, report.differences[:show])
    for line in lines:
        echo(line)
    if report.fixed > len(lines):
        echo(f"… and {_plural(report.fixed - len(lines), 'more difference')}")
    for table, totals in report.totals.items():
        if totals.keys:
            echo(f"{table}: {_plural(totals.keys, 'key')} fixed (+{totals.added} / -{totals.removed} counted)")
    summary = f"checked {_plural(report.months, 'month')}, {_plural(report.ratings, 'rating')}"
    if report.fixed:
        echo(f"{summary}: {_plural(report.fixed, 'key')} differed and were fixed")
    else:
        echo(f"{summary}: the rollups match the ratings, nothing to fix")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
