"""`python -m bench` (make bench): run every benchmark module of this package in turn with its defaults."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path


def main() -> None:
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if module.startswith("_"):
            continue
        print(f"## bench.{module}", flush=True)
        importlib.import_module(f"bench.{module}").main([])


if __name__ == "__main__":
    main()
