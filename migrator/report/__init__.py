"""The readiness report, pure: what a plan means for an upgrade, for people and for CI.

`model` turns a plan into the report's view model and applies the CI gate; `charts` draws
its SVG charts; `render` writes it as HTML, Markdown and JSON; `templating` is the one Jinja2
environment (also used for the pull-request description). Fleets are planned by
`migrator.app.fleet`; writing the files is `migrator.app.report`'s job.
"""
