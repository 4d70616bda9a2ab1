"""Rendering the report: golden Markdown and JSON for the demo cluster, escaping of names with
HTML-significant characters, a page that loads nothing, and deterministic SVG charts."""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from demo import ROOT, cwd, demo_inventory, demo_plan  # noqa: E402
from edge import edged  # noqa: E402
from golden import assert_golden  # noqa: E402

from migrator.app.report import run_report  # noqa: E402
from migrator.model.escape import md, md_code  # noqa: E402
from migrator.model.inventory import Inventory  # noqa: E402
from migrator.model.packed import pack_plan, unpack_plan
from migrator.plan.decide import build_plan, pin_version  # noqa: E402
from migrator.report.charts import namespaces_donut, passing_bars, psp_bars  # noqa: E402
from migrator.report.model import build_report  # noqa: E402
from migrator.report.render import render_html, render_markdown  # noqa: E402

run_report = edged(run_report)

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"

EVIL_NS = "evil<script>alert(1)</script>&co"
EVIL_POD = "web<script>alert(3)</script>&pod"
EVIL_PSP = "psp<script>alert(4)</script>&"
EVIL_YAML = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: "{EVIL_NS}"
  labels:
    pod-security.kubernetes.io/enforce: "<img src=x onerror=alert(2)>&"
    team: "<script>alert(5)</script>&"
---
apiVersion: v1
kind: Pod
metadata:
  name: "{EVIL_POD}"
  namespace: "{EVIL_NS}"
spec:
  containers:
  - name: "c<b>&"
    image: x
    securityContext: {{privileged: true}}
---
apiVersion: policy/v1beta1
kind: PodSecurityPolicy
metadata: {{name: "{EVIL_PSP}"}}
spec:
  privileged: true
  seLinux: {{rule: RunAsAny}}
  runAsUser: {{rule: RunAsAny}}
  supplementalGroups: {{rule: RunAsAny}}
  fsGroup: {{rule: RunAsAny}}
  volumes: ['*']
"""


def _quiet(_text: str) -> None:
    pass


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    with cwd(ROOT):  # relative origins, as in the shared demo plan
        code = run_report(["fixtures/demo"], out=str(out), force=True, echo=_quiet, err=_quiet)
    assert code == 0
    return out


def evil_reports(out: Path) -> Path:
    """The reports of objects whose names no API server would accept (reading files refuses
    them, see test_names.py), built straight from the objects: whatever reaches a report
    is escaped, wherever it came from."""
    inventory = Inventory()
    for index, obj in enumerate(yaml.safe_load_all(EVIL_YAML)):
        inventory.add(obj, f"all.yaml#{index}")
    report = build_report(build_plan(inventory, pin=pin_version(None, None)),
                          inventory=inventory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(render_html(report), encoding="utf-8")
    (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def evil_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return evil_reports(tmp_path_factory.mktemp("evil"))


# -- golden files -----------------------------------------------------------------------------


def test_golden_markdown_and_json(demo_out: Path) -> None:
    assert_golden("report/demo.md", (demo_out / "report.md").read_text(encoding="utf-8"))
    assert_golden("report/demo.json", (demo_out / "report.json").read_text(encoding="utf-8"))


def test_golden_markdown_from_plan_alone() -> None:
    assert_golden("report/demo-plan-only.md", render_markdown(build_report(demo_plan())))


def test_plan_json_is_the_plan(demo_out: Path) -> None:
    written = json.loads((demo_out / "plan.json").read_text(encoding="utf-8"))
    assert unpack_plan(written) == demo_plan()
    assert written == pack_plan(demo_plan())


# -- escaping ------------------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(str(values["id"]))
        if values.get("href"):
            self.hrefs.append(str(values["href"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collector:
    collector = _Collector()
    collector.feed(html)
    return collector


def test_html_escapes_names(evil_out: Path) -> None:
    html = (evil_out / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags and "b" not in page.tags
    assert "alert(" not in "".join(re.findall(r"<[^>]*>", html))  # never inside a tag
    text = "".join(page.text)
    for name in (EVIL_NS, EVIL_POD, EVIL_PSP, "c<b>&", "<img src=x onerror=alert(2)>&"):
        assert name in text  # shown as text, after unescaping
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in html
    for href in page.hrefs:
        assert href.startswith("#") and href[1:] in page.ids


def test_markdown_escapes_names_outside_code_blocks(evil_out: Path) -> None:
    text = (evil_out / "report.md").read_text(encoding="utf-8")
    prose = re.sub(r"^ *```.*?^ *```$", "", text, flags=re.MULTILINE | re.DOTALL)
    assert "<" not in prose and ">" not in prose.replace("\n> ", "\n")
    assert "evil&lt;script&gt;alert(1)&lt;/script&gt;&amp;co" in prose
    assert "web&lt;script&gt;alert(3)&lt;/script&gt;&amp;pod" in prose
    # commands keep the real names, shell-quoted, inside fenced blocks
    assert f"kubectl delete podsecuritypolicy '{EVIL_PSP}'" in text


def test_md_helpers() -> None:
    assert md("a|b *c* [d] <e> & f_g _h_") == r"a\|b \*c\* \[d\] &lt;e&gt; &amp; f_g \_h\_"
    assert md("#1\nnext") == r"\#1 next"
    assert md(None) == ""
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"


# -- a page that loads nothing -----------------------------------------------------------------------


def test_html_is_self_contained(demo_out: Path) -> None:
    html = (demo_out / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert page.tags.count("svg") == 3
    for anchor in ("ns-team-a", "ns-kube-system", "blockers", "rollout"):
        assert anchor in page.ids
    assert "#ns-team-a" in page.hrefs
    for href in page.hrefs:
        assert href.startswith("#") and href[1:] in page.ids, href


def test_html_of_a_timestamped_report_shows_it() -> None:
    report = build_report(demo_plan(), inventory=demo_inventory(),
                          generated_at="2024-05-01T10:00:00Z")
    assert "2024-05-01T10:00:00Z" in render_html(report)
    assert "2024-05-01T10:00:00Z" not in render_html(build_report(demo_plan()))


# -- charts --------------------------------------------------------------------------------------------


def test_charts_are_deterministic_and_escaped() -> None:
    charts = build_report(demo_plan())["charts"]
    first = [namespaces_donut(charts["namespaces_by_level"]), passing_bars(charts["passing"]),
             psp_bars(charts["psps_by_level"])]
    again = [namespaces_donut(charts["namespaces_by_level"]), passing_bars(charts["passing"]),
             psp_bars(charts["psps_by_level"])]
    assert first == again
    for svg in first:
        assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
        assert 'role="img"' in svg and "<title>" in svg
    donut = namespaces_donut([{"level": "<x>&", "count": 1}])
    assert "<x>" not in donut and "&lt;x&gt;&amp;" in donut


def test_empty_charts() -> None:
    assert "0</text>" in namespaces_donut([{"level": "restricted", "count": 0}])
    bars = passing_bars({"templates": 0, "pods": 0, "rows": [
        {"level": "restricted", "version": "latest", "templates": 0, "pods": 0}]})
    assert "0/0" in bars
    assert psp_bars([{"level": "baseline", "mutating": 0, "non_mutating": 0}]).count("<rect") == 3


def test_helm_section_in_markdown_and_html() -> None:
    from test_report_helm import OTHER_MANIFEST_MARKER, VALUES_SECRET, release_secrets

    from migrator.cluster.helm import HelmHistory

    history = HelmHistory()
    for secret in release_secrets():
        history.add_secret(secret)
    report = build_report(demo_plan(), helm=history.to_dict())
    assert report["helm"]["commands"] == ["helm mapkubeapis nginx --namespace ingress"]
    assert [f["subject"] for f in report["findings"]["blockers"]][-1] == "Helm ingress/nginx"
    text = render_markdown(report)
    assert "| ingress/nginx | 1 (current) | mychart 1.2.3 | deployed | nginx-admission, " \
           "nginx-psp |" in text
    assert "```sh\nhelm mapkubeapis nginx --namespace ingress\n```" in text
    html = render_html(report)
    assert "no rollback to it after 1.25" in html
    for output in (text, html, json.dumps(report)):
        assert VALUES_SECRET not in output and OTHER_MANIFEST_MARKER not in output


def test_server_dry_run_in_html_and_markdown() -> None:
    from test_report_model import server_dry_run_plan

    report = build_report(server_dry_run_plan())
    html = render_html(report)
    assert "The API server judged 6 of 7 namespaces (dryRun=All)" in html
    assert "1 disagreement</span>" in html and "agrees with the plan" in html
    assert "server checked 2 of 4 pods" in html
    text = render_markdown(report)
    assert "### Offline and server verdicts disagree" in text
    assert "- **team-a**: web-6b7f9-4xz8m: the server rejects it (host ports)" in text
