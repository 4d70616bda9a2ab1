"""Every local read and write: manifests, snapshots, plan files, output trees, repositories.

`manifests` reads YAML and JSON documents; `source` builds an Inventory from files;
`snapshot` writes and reads snapshots; `planfile` reads plan.json; `writing` writes output
trees atomically; `repo` edits a manifests repository in place and runs git; `overlays`
judges what each kustomize overlay builds from an edited base (and runs kustomize).
"""
