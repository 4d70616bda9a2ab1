"""End to end: the real `check` and `plan` commands on generated cluster dumps, as processes.

Generates a cluster dump (Namespaces, per namespace a Deployment, its ReplicaSet, a CronJob,
a RoleBinding granting a PSP, and pods of a realistic mix; the demo's PSPs and cluster
RBAC) in three forms: one JSON `kind: List` (what `kubectl get -o json` writes), one YAML
`kind: List` (`kubectl get -o yaml`) and multi-document YAML. Then, in the same run, times
a bare stdlib `json.load` (and a PyYAML CSafeLoader load) of the same file, `migrator
check` and `migrator plan` (with every report), each as its own process, and prints
elapsed seconds, peak RSS (the child's `ru_maxrss`), the ratio to the bare load and the
sizes of what `plan` wrote.

    .venv/bin/python benchmarks/end_to_end.py --pods 25000 --namespaces 2000
    .venv/bin/python benchmarks/end_to_end.py --pods 100000 --namespaces 2000 --formats json
    .venv/bin/python benchmarks/end_to_end.py --pods 25000 --namespaces 2000 --formats yaml-list

The JSON dump holds one object a line (about 1.4 KB a pod, 141 MB for 100k pods).
Dumps are cached in --work (default /tmp/migrator-bench) by size; delete it to regenerate.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from evaluate import pod_mix  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
FORMATS = ("json", "yaml-list", "yaml-docs")
SUFFIX = {"json": ".json", "yaml-list": ".yaml", "yaml-docs": ".yaml"}


def _demo_cluster_objects() -> list[dict[str, Any]]:
    """The demo's PSPs, ClusterRoles and ClusterRoleBindings."""
    out = []
    for name in ("10-psps.yaml", "20-rbac.yaml"):
        with open(ROOT / "fixtures" / "demo" / name, encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if doc and doc.get("kind") in ("PodSecurityPolicy", "ClusterRole",
                                               "ClusterRoleBinding"):
                    out.append(doc)
    return out


def _namespace_objects(n: int, per_namespace: int) -> tuple[list[dict[str, Any]],
                                                            dict[str, Any]]:
    """The objects of namespace `n` other than its pods, and a pod with placeholders
    (__NAME__, __NODE__, __TOKEN__) for its pods."""
    mix = pod_mix()
    meta, spec = copy.deepcopy(mix[n % len(mix)])
    ns = f"team-{n:05d}"
    template = {"metadata": {"labels": {"app": "app"}, **meta}, "spec": spec}
    dep_uid, rs_uid = f"d-{n}", f"r-{n}"
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "app", "namespace": ns, "uid": dep_uid},
         "spec": {"replicas": per_namespace, "template": template}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "app-1", "namespace": ns, "uid": rs_uid,
                      "ownerReferences": [{"kind": "Deployment", "name": "app",
                                           "uid": dep_uid, "controller": True}]},
         "spec": {"template": template}},
        {"apiVersion": "batch/v1", "kind": "CronJob",
         "metadata": {"name": "nightly", "namespace": ns},
         "spec": {"jobTemplate": {"spec": {"template": template}}}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "psp", "namespace": ns},
         "roleRef": {"kind": "ClusterRole", "name": "psp:restricted"},
         "subjects": [{"kind": "Group", "name": f"system:serviceaccounts:{ns}"}]},
    ]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "__NAME__", "namespace": ns,
                     "annotations": {"kubernetes.io/psp": "restricted-mutating",
                                     **(meta.get("annotations") or {})},
                     "ownerReferences": [{"kind": "ReplicaSet", "name": "app-1",
                                          "uid": rs_uid, "controller": True}]},
        "spec": {**spec, "nodeName": "node-__NODE__",
                 "volumes": list(spec.get("volumes") or ()) + [
                     {"name": "kube-api-access-__TOKEN__", "projected": {"sources": []}}]},
        "status": {"phase": "Running"},
    }
    return objects, pod


def _pods_of(n: int, pods: int, namespaces: int) -> range:
    """Pod indices of namespace `n` when `pods` are spread evenly."""
    return range(n * pods // namespaces, (n + 1) * pods // namespaces)


def _fill(text: str, i: int) -> str:
    return (text.replace("__NAME__", f"app-1-{i:07d}").replace("__NODE__", str(i % 250))
            .replace("__TOKEN__", f"{i:07d}"))


def _items(pods: int, namespaces: int, dump: Callable[[dict[str, Any]], str]
           ) -> Iterator[str]:
    """Each object of the cluster as `dump` writes it (a namespace's pods from one text)."""
    for obj in _demo_cluster_objects():
        yield dump(obj)
    for n in range(namespaces):
        objects, pod = _namespace_objects(n, len(_pods_of(n, pods, namespaces)))
        for obj in objects:
            yield dump(obj)
        pod_text = dump(pod)
        for i in _pods_of(n, pods, namespaces):
            yield _fill(pod_text, i)


def _json_items(pods: int, namespaces: int) -> Iterator[str]:
    """Each object as one line of JSON."""
    return _items(pods, namespaces, lambda obj: "        " + json.dumps(obj))


class _Dumper(yaml.CSafeDumper):  # type: ignore[misc]
    """Writes shared objects out in full, as kubectl does, instead of as anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _yaml_text(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=True)


def _yaml_items(pods: int, namespaces: int) -> Iterator[str]:
    """Each object as YAML text (block style, as kubectl writes it)."""
    return _items(pods, namespaces, _yaml_text)


def generate(path: Path, fmt: str, pods: int, namespaces: int) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        if fmt == "json":
            out.write('{\n    "apiVersion": "v1",\n    "items": [\n')
            first = True
            for item in _json_items(pods, namespaces):
                if not first:
                    out.write(",\n")
                out.write(item)
                first = False
            out.write('\n    ],\n    "kind": "List",\n    "metadata": {\n'
                      '        "resourceVersion": ""\n    }\n}\n')
        elif fmt == "yaml-list":
            out.write("apiVersion: v1\nitems:\n")
            for item in _yaml_items(pods, namespaces):
                lines = item.rstrip("\n").split("\n")
                out.write("- " + lines[0] + "\n")
                for line in lines[1:]:
                    out.write("  " + line + "\n")
            out.write("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
        else:
            for item in _yaml_items(pods, namespaces):
                out.write("---\n")
                out.write(item)
    tmp.rename(path)


def run(args: list[str], cwd: Path | None = None) -> tuple[float, float, int, str]:
    """Seconds, peak RSS in MB, exit code and stderr of one child process. The seconds are
    the child's CPU time (user + system), which other load on a shared machine does not
    inflate as it does the elapsed time (printed too)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    WALL[cpu] = elapsed
    return cpu, usage.ru_maxrss / 1024, child.returncode, err


#: CPU seconds of a run -> its elapsed seconds, for the printout.
WALL: dict[float, float] = {}


BARE_JSON = "import json, sys\nwith open(sys.argv[1], 'rb') as f:\n    json.load(f)\n"
BARE_YAML = ("import yaml, sys\nwith open(sys.argv[1], 'rb') as f:\n"
             "    list(yaml.load_all(f, Loader=yaml.CSafeLoader))\n")


def _size(path: Path) -> str:
    if not path.exists():
        return "-"
    size = path.stat().st_size
    if path.suffix == ".md":
        chars = len(path.read_text(encoding="utf-8"))
        return f"{size / 1e6:.2f} MB ({chars:,} chars)"
    return f"{size / 1e6:.2f} MB"


def bench(fmt: str, pods: int, namespaces: int, work: Path, migrator: list[str],
          bare_yaml: bool) -> None:
    work.mkdir(parents=True, exist_ok=True)
    dump = work / f"cluster-{pods}-{namespaces}-{fmt}{SUFFIX[fmt]}"
    if not dump.exists():
        start = time.perf_counter()
        generate(dump, fmt, pods, namespaces)
        print(f"generated {dump.name} in {time.perf_counter() - start:.1f} s")
    print(f"\n== {fmt}: {pods:,} pods, {namespaces:,} namespaces, "
          f"{dump.stat().st_size / 1e6:.0f} MB ==")
    base_t, base_rss, code, err = run([PYTHON, "-c", BARE_JSON if fmt == "json" else BARE_YAML,
                                       str(dump)]) if (fmt == "json" or bare_yaml) else (
        0.0, 0.0, 0, "")
    if code:
        raise SystemExit(f"bare load failed: {err}")
    label = "json.load" if fmt == "json" else "CSafeLoader"
    print(f"{'':<26}{'CPU':>8}   {'peak RSS':>8}    (elapsed)")
    if base_t:
        print(f"{'bare ' + label:<26}{base_t:8.2f} s {base_rss:8.0f} MB  ({WALL[base_t]:.2f} s)")

    def line(what: str, t: float, rss: float, rc: int) -> None:
        ratio = f"  {t / base_t:5.2f}x time {rss / base_rss:5.2f}x memory" if base_t else ""
        print(f"{what:<26}{t:8.2f} s {rss:8.0f} MB  ({WALL[t]:.2f} s){ratio}  (exit {rc})")

    t, rss, rc, err = run([*migrator, "check", str(dump), "-l", "baseline"])
    line("migrator check", t, rss, rc)
    if rc not in (0, 1):
        print(err[-2000:])
    out = work / f"out-{pods}-{namespaces}-{fmt}"
    shutil.rmtree(out, ignore_errors=True)
    t, rss, rc, err = run([*migrator, "plan", str(dump), "--out", str(out), "--quiet"])
    line("migrator plan (reports)", t, rss, rc)
    if rc not in (0, 1) or not (out / "plan.json").is_file():
        print("  FAILED: no plan written; its figures are not a measurement")
        print(err[-2000:])
    for name in ("plan.json", "report.md", "report-details.md", "report.html", "report.json"):
        print(f"  {name:<24}{_size(out / name)}")
    t, rss, rc, err = run([*migrator, "plan", str(dump), "--out", str(out), "--force"])
    line("migrator plan (terminal)", t, rss, rc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, nargs="+", default=[25_000])
    parser.add_argument("--namespaces", type=int, nargs="+", default=[2_000])
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/migrator-bench"))
    parser.add_argument("--no-bare-yaml", action="store_true",
                        help="skip the CSafeLoader baseline (slow on large YAML files)")
    args = parser.parse_args()
    migrator = [PYTHON, "-m", "migrator"]
    for fmt in args.formats:
        for namespaces in args.namespaces:
            for pods in args.pods:
                bench(fmt, pods, namespaces, args.work, migrator, not args.no_bare_yaml)


if __name__ == "__main__":
    main()
