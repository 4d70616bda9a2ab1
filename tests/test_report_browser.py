"""The HTML report in a real headless browser (Debian's chromium): it loads from a file with
no console error, its SVG charts and per-namespace anchors are in the DOM, escaped names
never run, and a screenshot is saved (also to $MIGRATOR_ARTIFACTS when set).

Skipped, with the reason, when chromium is not installed (`apt-get install -y chromium`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_report_render import EVIL_NS, EVIL_YAML  # noqa: E402

from migrator.app.report import run_report  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT = 180
INSTALL = "apt-get update && apt-get install -y chromium"
from edge import edged  # noqa: E402

run_report = edged(run_report)


def _find_chromium() -> str | None:
    explicit = os.environ.get("MIGRATOR_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _find_chromium()
    if path is None:
        pytest.skip(f"chromium is not installed; the browser tests need it ({INSTALL})")
    try:
        probe = subprocess.run([path, "--version"], capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium at {path} does not start: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"chromium at {path} does not start: {probe.stderr.strip()[:200]}")
    return path


def browse(chromium: str, profile: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium on a local file with no network and a throw-away profile."""
    command = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-extensions", "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
        "--enable-logging=stderr", "--v=0", *args, page.resolve().as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def console_problems(stderr: str) -> list[str]:
    """Console messages and uncaught errors chromium logged (the page has no script at all,
    so any console line is a problem)."""
    return [line for line in stderr.splitlines()
            if "Uncaught" in line or "ERROR:CONSOLE" in line or ":CONSOLE" in line]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def ids(self) -> set[str]:
        return {a["id"] for _t, a in self.tags if a.get("id")}

    def hrefs(self) -> list[str]:
        return [a["href"] for t, a in self.tags if t == "a" and a.get("href")]


def dom_of(stdout: str) -> _Dom:
    dom = _Dom()
    dom.feed(stdout)
    return dom


def _quiet(_text: str) -> None:
    pass


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser-report")
    assert run_report([str(DEMO)], out=str(out), force=True, echo=_quiet, err=_quiet) == 0
    return out / "report.html"


def test_page_loads_with_charts_and_anchors(chromium: str, demo_page: Path,
                                            tmp_path: Path) -> None:
    result = browse(chromium, tmp_path / "profile", demo_page, "--dump-dom")
    assert console_problems(result.stderr) == []
    dom = dom_of(result.stdout)
    charts = [a.get("class", "") for t, a in dom.tags if t == "svg"]
    assert charts == ["chart chart-donut", "chart chart-passing", "chart chart-psps"]
    assert sum(1 for t, _a in dom.tags if t in ("rect", "circle")) > 20
    ids = dom.ids()
    for name in ("batch", "ingress-nginx", "kube-system", "legacy", "monitoring", "payments",
                 "team-a"):
        assert f"ns-{name}" in ids
    assert "#ns-team-a" in dom.hrefs()
    assert [t for t, a in dom.tags if a.get("id") == "ns-team-a"] == ["details"]
    for href in dom.hrefs():
        assert href.startswith("#") and href[1:] in ids, href
    assert "Not ready to upgrade" in "".join(dom.text)


def test_screenshot(chromium: str, demo_page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report-demo.png"
    result = browse(chromium, tmp_path / "profile", demo_page, f"--screenshot={shot}",
                    "--window-size=1280,2400")
    assert console_problems(result.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a rendered page, not a blank one
    artifacts = os.environ.get("MIGRATOR_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(artifacts) / "report-demo.png")


def test_escaped_names_never_run(chromium: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "all.yaml").write_text(EVIL_YAML, encoding="utf-8")
    out = tmp_path / "out"
    assert run_report([str(source)], out=str(out), echo=_quiet, err=_quiet) == 0
    result = browse(chromium, tmp_path / "profile", out / "report.html", "--dump-dom")
    assert console_problems(result.stderr) == []
    dom = dom_of(result.stdout)
    assert not [t for t, _a in dom.tags if t in ("script", "img", "b")]
    assert EVIL_NS in "".join(dom.text)


def test_console_errors_are_caught(chromium: str, tmp_path: Path) -> None:
    """The check above is not vacuous: a page that throws is reported."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><p>x</p><script>throw new Error('boom')</script>",
                    encoding="utf-8")
    result = browse(chromium, tmp_path / "profile", page, "--dump-dom")
    assert any("Uncaught Error: boom" in line for line in console_problems(result.stderr))


def test_fleet_page_loads(chromium: str, tmp_path: Path) -> None:
    from migrator.report.fleet import ClusterOutcome, fleet_view
    from migrator.report.render import render_fleet

    ok = ClusterOutcome("prod", "prod", report={
        "status": "ready", "headline": "Ready to upgrade.", "cluster": {"server_version": "v1.24.0"},
        "counts": {"namespaces": 3, "blockers": 0, "warnings": 0}}, plan={})
    failed = ClusterOutcome("<b>broken</b>", "_b_broken_b", error="connection refused & gone")
    page = tmp_path / "index.html"
    page.write_text(render_fleet(fleet_view([ok, failed])), encoding="utf-8")
    result = browse(chromium, tmp_path / "profile", page, "--dump-dom")
    assert console_problems(result.stderr) == []
    dom = dom_of(result.stdout)
    assert [a["href"] for t, a in dom.tags if t == "a"] == ["prod/report.html"]
    assert not [t for t, _a in dom.tags if t == "b"]
    assert "<b>broken</b>" in "".join(dom.text)
