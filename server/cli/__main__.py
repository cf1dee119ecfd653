"""`python -m server.cli`: the same as the `hailong` script."""

from server.cli import main

main()
