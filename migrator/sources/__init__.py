"""Where an Inventory comes from: a live cluster, or a snapshot written from one.

`migrator.sources.cluster` owns every conversation with a kube-apiserver (it is the only
module of the project that imports `kubernetes`): loading a kubeconfig, paginated read-only
lists of everything a migration needs, raw requests that keep `Warning` headers.
`migrator.sources.snapshot` owns writing an Inventory to one YAML file that the file source
reads back as the same objects. Import the submodules directly; this package imports
neither, so that reading files never loads the Kubernetes client.
"""
