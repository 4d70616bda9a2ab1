"""What `migrator generate` and `migrator patch` produce from a plan.

- `namespaces`: Namespace manifests with the Pod Security labels, in two phases;
- `patches`: the securityContext patch of each workload, proven by `check_object`, in three
  formats (strategic merge with a kustomization, RFC 6902 JSON, full manifests);
- `admission`: the PodSecurity admission configuration, plain and wrapped;
- `repo`: pull-request mode, editing the workloads' sources in a manifests repository;
- `writing`: writing files safely below one folder.

Reading the plan those commands start from is `migrator.planfile`'s job.
"""
