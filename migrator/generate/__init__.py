"""What `migrator generate` and `migrator patch` produce from a plan, pure.

- `namespaces`: Namespace manifests with the Pod Security labels, in two phases;
- `patches`: the securityContext patch of each workload, proven by `check_object`, in three
  formats (strategic merge with a kustomization, RFC 6902 JSON, full manifests);
- `admission`: the PodSecurity admission configuration, plain and wrapped.

Editing a repository in place is `migrator.files.repo`; writing the files is
`migrator.files.writing`.
"""
