"""What `migrator generate` and `migrator patch` produce from a plan.

- `namespaces`: Namespace manifests with the Pod Security labels, in two phases;
- `patches`: the securityContext patch of each workload, proven by `check_object`, in three
  formats (strategic merge with a kustomization, RFC 6902 JSON, full manifests);
- `admission`: the PodSecurity admission configuration, plain and wrapped;
- `repo`: pull-request mode, editing the workloads' sources in a manifests repository;
- `writing`: writing files safely below one folder.

This module owns reading the plan those commands start from (`read_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from migrator.errors import ManifestError

PLAN_SCHEMA = "migrator.plan/v1"
_REQUIRED = ("pin_version", "cluster", "admission_config", "namespaces")


def parse_plan(text: str, source: str) -> dict[str, Any]:
    """The plan in `text` (plan.json); ManifestError naming `source` when it is not one."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(source, f"invalid JSON: {exc.msg}", exc.lineno) from exc
    if not isinstance(data, Mapping) or data.get("schema") != PLAN_SCHEMA:
        raise ManifestError(source, f"not a migrator plan (expected schema {PLAN_SCHEMA}); "
                            "write one with `migrator plan`")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ManifestError(source, f"plan lacks {', '.join(missing)}")
    for ns in data["namespaces"]:
        if not isinstance(ns, Mapping) or not {"name", "recommended", "labels",
                                               "after_patches", "subjects"} <= set(ns):
            raise ManifestError(source, "a namespace entry lacks name, recommended, labels, "
                                "after_patches or subjects")
    return dict(data)


def read_plan(path: str) -> dict[str, Any]:
    """The plan stored at `path`."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ManifestError(path, exc.strerror or str(exc)) from exc
    return parse_plan(text, path)
