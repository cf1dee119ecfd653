"""`python -m bench` (`make bench`): run every benchmark module in bench/ one after the other."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    """Import each `bench/<name>.py` (not starting with `_`) and call its `main([])`."""
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if hasattr(module, "main"):
            print(f"== bench.{info.name}", file=sys.stderr)
            module.main([])


if __name__ == "__main__":
    main()
