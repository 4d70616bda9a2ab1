"""Every conversation with a kube-apiserver: the only package that imports `kubernetes`.

`client` loads kubeconfigs, sends requests with retries and reads an Inventory;
`namespaces` reads and writes one Namespace; `labels` applies and rolls back Pod Security
labels; `dryrun` runs the namespace label dry-run; `helm` reads Helm release Secrets.
Import the submodules directly, so that reading files never loads the Kubernetes client.
"""
