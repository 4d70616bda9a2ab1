"""`python -m migrator` runs the command-line interface."""

from migrator.cli.main import main

main()
