"""The readiness report: what a plan means for an upgrade, for people and for CI.

`model` turns a plan into the report's view model and applies the CI gate; `charts` draws
its SVG charts; `render` writes it as HTML, Markdown and JSON; `helm` finds Helm releases
that still hold a PodSecurityPolicy; `fleet` plans several clusters at once. The command
line lives in `migrator.cli_report`.
"""
