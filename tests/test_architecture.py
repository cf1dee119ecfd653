"""Layout rules that keep the kiosk deployable on its own and everything offline."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_kiosk_imports_only_the_contracts_from_server() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            n for n in _imports(path) if n.split(".")[0] == "server" and n != "server.contracts"
        )
        for path in (ROOT / "kiosk").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_external_urls_in_pages_or_assets() -> None:
    """Kiosks work with the network down: templates and static files fetch nothing from elsewhere."""
    pattern = re.compile(r"""(?:src|href|url)\s*[=(]\s*["']?(?:https?:)?//""", re.IGNORECASE)
    checked = 0
    for base in (ROOT / "templates", ROOT / "server" / "static", ROOT / "kiosk"):
        for path in base.rglob("*"):
            if path.suffix not in {".html", ".css", ".js"} or "vendor" in path.parts:
                continue
            checked += 1
            assert not pattern.search(path.read_text(encoding="utf-8")), path
    assert checked > 0


def test_templates_declare_their_context() -> None:
    for path in (ROOT / "templates").rglob("*.html"):
        assert path.read_text(encoding="utf-8").lstrip().startswith("{# Required context"), path


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: set[str]) -> set[str]:
    """Distributions `names` need, transitively (requirements behind an extra or a marker included: a superset)."""
    from importlib.metadata import PackageNotFoundError, requires

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            todo += [_requirement_name(r) for r in requires(name) or [] if "extra ==" not in r]
        except PackageNotFoundError:
            continue
    return seen


def test_a_kiosk_install_needs_only_the_base_dependencies() -> None:
    """`pip install .` on a kiosk mini-PC (no `server` extra: no database driver, no WeasyPrint) has every module the
    kiosk app imports: kiosk/, and the two server modules it loads (the package root and the contracts)."""
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    base = _closure({_requirement_name(r) for r in project["dependencies"]})
    server_only = {_requirement_name(r) for r in project["optional-dependencies"]["server"]}
    assert "weasyprint" in server_only and "weasyprint" not in base
    owners = packages_distributions()
    files = [*(ROOT / "kiosk").rglob("*.py"), ROOT / "server" / "__init__.py", ROOT / "server" / "contracts.py"]
    missing = {}
    for path in files:
        for module in {name.split(".")[0] for name in _imports(path)}:
            if module in sys.stdlib_module_names or module in ("kiosk", "server", "__future__"):
                continue
            dists = {d.lower().replace("_", "-") for d in owners.get(module, [module])}
            if not dists & base:
                missing[f"{path.relative_to(ROOT)}: {module}"] = sorted(dists)
    assert missing == {}


def test_shared_presentation_belongs_to_no_page() -> None:
    """The report, formats and charts that the dashboard, the exports and the public pages share live outside them
    (`server.indices.overview`, `server.presentation`): the exports and the public pages never import the dashboard,
    and the template set-up and the presentation helpers import no domain package (only the indices' row schema, which
    the charts draw)."""
    server = ROOT / "server"
    domain_packages = {p.name for p in server.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {
        "presentation",
        "static",
        "locales",
    }
    offenders: dict[str, list[str]] = {}
    for path in [*(server / "exports").rglob("*.py"), *(server / "public").rglob("*.py")]:
        found = sorted(n for n in _imports(path) if n.startswith("server.dashboard"))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    for path in [server / "templating.py", *(server / "presentation").rglob("*.py")]:
        found = sorted(
            n
            for n in _imports(path)
            if n.startswith("server.") and n.split(".")[1] in domain_packages and n != "server.indices.schemas"
        )
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == {}
    assert {"dashboard", "exports", "public"} <= domain_packages
