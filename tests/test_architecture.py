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
