"""Benchmark: `migrator audit` over a generated multi-GB audit log.

Builds the log from the real event shapes recorded in tests/data/audit (the pod and
Deployment creates of v1.36-audit.jsonl, Pod Security annotations and all, and the
Metadata-level `get` of v1.36-audit-metadata-level.jsonl), renamed and re-timed, mixed with
unrelated traffic of the same shapes a real server logs most (lease renewals at Request
level, gets, lists and watches at Metadata level). By default every 50th step writes a judged
pod or workload request and the others 1 to 4 unrelated events: about 1 event in 124 is
judged. The log is written under /tmp and deleted afterwards.

Runs the real command (`migrator audit LOG --plan PLAN --format json`) in a child process,
once over a quarter of the log and once over all of it, and prints for each the MB/s (start-up
included) and the child's peak RSS (VmHWM, Linux), beside baselines measured in the same run:
reading the file in blocks and doing nothing (the ceiling), `json.loads` of every line (what
a reader without the substring pre-filter pays, on the first 256 MB), and the command over
an empty log (start-up time and memory); and once over the quarter gzip-compressed, as a
rotated file. Equal peaks for a quarter and the whole log show the memory is constant.

    .venv/bin/python benchmarks/audit.py [--gb 2] [--related-every 50] [--keep]
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "audit"
MB = 1 << 20


def _shapes() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    judged = [json.loads(line) for line in (DATA / "v1.36-audit.jsonl").read_text().splitlines()]
    judged = [e for e in judged if e["objectRef"]["resource"] in ("pods", "deployments")]
    (get,) = [json.loads(line) for line in
              (DATA / "v1.36-audit-metadata-level.jsonl").read_text().splitlines()]
    return judged, get


def _unrelated(get: dict[str, Any], i: int) -> list[str]:
    """A few unrelated events of real shapes: a lease renewal (Request), get, list, watch."""
    node = f"node-{i % 500:03d}"
    lease = copy.deepcopy(get)
    lease.update({
        "level": "Request", "auditID": f"lease-{i:012d}", "verb": "update",
        "requestURI": f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}",
        "user": {"username": f"system:node:{node}", "groups": ["system:nodes",
                                                              "system:authenticated"]},
        "userAgent": "kubelet/v1.36.2 (linux/amd64) kubernetes/abcdef0",
        "objectRef": {"resource": "leases", "namespace": "kube-node-lease", "name": node,
                      "apiGroup": "coordination.k8s.io", "apiVersion": "v1",
                      "uid": f"{i:08d}-lease", "resourceVersion": str(1000 + i)},
        "requestObject": {
            "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": node, "namespace": "kube-node-lease", "uid": f"{i:08d}-lease",
                         "resourceVersion": str(1000 + i), "ownerReferences": [
                             {"apiVersion": "v1", "kind": "Node", "name": node,
                              "uid": f"{i:08d}-node"}],
                         "managedFields": [{"manager": "kubelet", "operation": "Update",
                                            "apiVersion": "coordination.k8s.io/v1",
                                            "fieldsType": "FieldsV1", "fieldsV1": {
                                                "f:spec": {"f:holderIdentity": {},
                                                           "f:leaseDurationSeconds": {},
                                                           "f:renewTime": {}}}}]},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40,
                     "renewTime": "2026-12-01T20:41:04.000000Z"}},
        "annotations": {"authorization.k8s.io/decision": "allow",
                        "authorization.k8s.io/reason": ""},
    })
    out = [lease]
    for verb, resource_, name in (("get", "configmaps", f"cfg-{i % 97}"),
                                  ("list", "endpointslices", ""),
                                  ("watch", "secrets", "")):
        event = copy.deepcopy(get)
        event["auditID"] = f"{verb}-{i:012d}"
        event["verb"] = verb
        event["requestURI"] = f"/api/v1/namespaces/team-{i % 40}/{resource_}" + (
            f"/{name}" if name else "?limit=500&resourceVersion=0")
        event["objectRef"] = {"resource": resource_, "namespace": f"team-{i % 40}",
                              "apiVersion": "v1", **({"name": name} if name else {})}
        event["user"] = {"username": "system:serviceaccount:team-app:app",
                         "groups": ["system:serviceaccounts", "system:authenticated"]}
        if verb == "watch":
            event["stage"] = "ResponseStarted"
        out.append(event)
    return [json.dumps(e, separators=(",", ":")) for e in out]


def _judged(judged: list[dict[str, Any]], i: int) -> str:
    event = copy.deepcopy(judged[i % len(judged)])
    event["auditID"] = f"judged-{i:012d}"
    ns = f"team-{i % 40}"
    event["objectRef"]["namespace"] = ns
    event["requestURI"] = event["requestURI"].replace("audit-demo", ns)
    seconds = i % 86400
    event["requestReceivedTimestamp"] = (f"2026-12-01T{seconds // 3600:02d}:"
                                         f"{seconds // 60 % 60:02d}:{seconds % 60:02d}.000000Z")
    return json.dumps(event, separators=(",", ":"))


def write_log(path: Path, size: int, related_every: int) -> tuple[int, int]:
    """Write about `size` bytes of log; (lines, judged lines).

    A pool of distinct events is rendered once and written over and over, the judged
    requests' auditIDs made unique in each copy (repeated IDs are counted once); rendering
    each event anew would make writing the log take longer than reading it.
    """
    judged, get = _shapes()
    pool: list[str] = []
    hits_in_pool = 0
    for i in range(1, 20_001):
        if i % related_every == 0:
            pool.append(_judged(judged, i))
            hits_in_pool += 1
        else:
            pool.extend(_unrelated(get, i)[: 1 + i % 4])
    text = "\n".join(pool) + "\n"
    data = text.encode()
    written = lines = hits = 0
    marker = b'"auditID":"judged-'
    with path.open("wb") as out:
        copies = 0
        while written < size:
            copies += 1  # each copy's judged requests get their own auditIDs
            block = data.replace(marker, marker + b"%d-" % copies)
            out.write(block)
            written += len(block)
            lines += len(pool)
            hits += hits_in_pool
    return lines, hits


def write_plan(folder: Path) -> Path:
    """A plan for namespaces team-0..team-39, each planned at baseline."""
    sys.path.insert(0, str(ROOT))
    from migrator.model.inventory import Inventory
    from migrator.plan.decide import build_plan
    from migrator.pss.api import Version

    inventory = Inventory()
    for n in range(40):
        inventory.add({"apiVersion": "v1", "kind": "Namespace",
                       "metadata": {"name": f"team-{n}"}}, "bench")
        inventory.add({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "namespace": f"team-{n}"},
                       "spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}},
                      "bench")
    plan = build_plan(inventory, pin=Version.latest())
    path = folder / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def _raw_read(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as handle:
        while handle.read(4 * MB):
            pass
    return time.perf_counter() - start


def _parse_every_line(path: Path, limit: int) -> tuple[float, int]:
    start = time.perf_counter()
    done = 0
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
            done += len(line)
            if done >= limit:
                break
    return time.perf_counter() - start, done


_CHILD = (
    "import atexit, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status:\n"
    "        hwm = [l.split()[1] for l in status if l.startswith('VmHWM:')]\n"
    "    sys.stderr.write(f'\\npeak-rss-kib={hwm[0]}\\n')\n"
    "atexit.register(peak)\n"
    "sys.argv = ['migrator', *sys.argv[1:]]\n"
    "from migrator.cli.main import main\n"
    "main()\n"
)


def _run(args: list[str]) -> tuple[float, int, dict[str, Any]]:
    """(seconds, the child's own peak RSS in KiB, its JSON output) of one run of the command.

    The child reports its own peak (VmHWM of /proc/self/status) at exit: ru_maxrss, of
    wait4 or RUSAGE_SELF, keeps the high-water mark of the forked parent across exec.
    """
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=ROOT,
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"migrator audit failed ({done.returncode}): {done.stderr.decode()}")
    rss = int(done.stderr.decode().rpartition("peak-rss-kib=")[2].strip())
    return elapsed, rss, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="log size in GiB")
    parser.add_argument("--related-every", type=int, default=50,
                        help="one judged request per this many steps (of 1-4 events)")
    parser.add_argument("--keep", action="store_true", help="keep the log under /tmp")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="migrator-audit-bench-", dir="/tmp"))
    log = folder / "audit.log"
    quarter = folder / "audit-quarter.log"
    try:
        size = int(options.gb * 1024 * MB)
        start = time.perf_counter()
        lines, hits = write_log(log, size, options.related_every)
        with log.open("rb") as src, quarter.open("wb") as dst:
            while dst.tell() < size // 4 and (block := src.read(4 * MB)):
                dst.write(block)  # the pool repeats whole lines: blocks end anywhere, so
            dst.write(src.readline())  # finish the line the last block cut
        total = log.stat().st_size
        print(f"log: {total / MB:,.0f} MB, {lines:,} events, {hits:,} judged pod/workload "
              f"requests (1 event in {lines // max(hits, 1)}); written in "
              f"{time.perf_counter() - start:.1f} s to {folder}")
        plan = write_plan(folder)

        raw = _raw_read(log)
        print(f"baseline, read in 4 MB blocks, nothing else: {total / MB / raw:,.0f} MB/s")
        parse_s, parsed = _parse_every_line(log, 256 * MB)
        print(f"baseline, json.loads of every line (first {parsed / MB:,.0f} MB): "
              f"{parsed / MB / parse_s:,.0f} MB/s")
        empty = folder / "empty.log"
        empty.write_text("")
        seconds, rss, _result = _run(["audit", str(empty), "--plan", str(plan),
                                      "--format", "json"])
        print(f"baseline, migrator audit of an empty log: {seconds:.2f} s (start-up), "
              f"peak RSS {rss / 1024:,.0f} MB")
        rotated = folder / "audit.log.1.gz"
        with quarter.open("rb") as src, gzip.open(rotated, "wb", compresslevel=6) as dst:
            while block := src.read(4 * MB):
                dst.write(block)
        seconds, rss, _result = _run(["audit", str(rotated), "--plan", str(plan),
                                      "--format", "json"])
        plain = quarter.stat().st_size / MB
        print(f"migrator audit, the quarter gzip-compressed ({rotated.stat().st_size / MB:,.0f} "
              f"MB on disk): {seconds:.1f} s, {plain / seconds:,.0f} MB/s of log, peak RSS "
              f"{rss / 1024:,.0f} MB")
        for name, path in (("quarter", quarter), ("full", log)):
            seconds, rss, result = _run(["audit", str(path), "--plan", str(plan),
                                         "--format", "json"])
            size_mb = path.stat().st_size / MB
            creations = sum(n["pod_creations"] for n in result["namespaces"])
            violating = sum(n["violating_pod_creations"] for n in result["namespaces"])
            print(f"migrator audit, {name} log ({size_mb:,.0f} MB): {seconds:.1f} s, "
                  f"{size_mb / seconds:,.0f} MB/s, peak RSS {rss / 1024:,.0f} MB; "
                  f"{creations:,} pod creations, {violating:,} violating, "
                  f"{result['malformed_lines']} malformed lines")
    finally:
        if not options.keep:
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()


if __name__ == "__main__":
    main()
