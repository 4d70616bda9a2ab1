"""The command line: the typer app, one module per command group, and the console.

The only package that prints, exits or reads the environment. Each command parses its
options, calls a use case of `migrator.app`, renders the result and turns every
`MigratorError` into one `error:` line and its exit code (`migrator.cli.main`).
"""
