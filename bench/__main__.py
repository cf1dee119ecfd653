"""`python -m bench` (`make bench`): the benchmark suite; see bench/suite.py."""

from __future__ import annotations

import sys

from bench.suite import main

if __name__ == "__main__":
    sys.exit(main())
