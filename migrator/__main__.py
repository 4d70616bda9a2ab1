"""`python -m migrator` runs the command-line interface."""

from migrator.cli import main

main()
