"""Use cases: what each command does between parsing its options and exiting.

Reads a source (files or a live cluster, through `migrator.files` and `migrator.cluster`),
plans it with the pure core, and writes the artefacts. Returns exit codes and raises
`MigratorError`; it never prints except through the callables it is given.
"""
