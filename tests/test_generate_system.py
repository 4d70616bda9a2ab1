"""System namespaces: the namespace manifests agree with the generated admission configuration."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from demo import demo_plan  # noqa: E402

from migrator.generate.admission import admission_files, exemptions  # noqa: E402
from migrator.generate.namespaces import namespace_files  # noqa: E402


def _exempt_in_generated_config() -> set[str]:
    files = admission_files(demo_plan())
    found: set[str] = set()
    for text in files.values():
        for doc in yaml.safe_load_all(text):
            if isinstance(doc, dict):
                stack = [doc]
                while stack:
                    node = stack.pop()
                    for key, value in node.items():
                        if key == "exemptions" and isinstance(value, dict):
                            found.update(value.get("namespaces") or ())
                        elif isinstance(value, dict):
                            stack.append(value)
                        elif isinstance(value, list):
                            stack.extend(v for v in value if isinstance(v, dict))
    return found


def test_an_exempt_namespace_is_not_told_to_keep_watching() -> None:
    exempt = _exempt_in_generated_config()
    assert "kube-system" in exempt
    assert exempt == {name for name, _ in exemptions(demo_plan())["namespaces"]}
    files = namespace_files(demo_plan())
    for path, text in files.items():
        name = path.rsplit("/", 1)[-1].removesuffix(".yaml")
        if name in exempt:
            assert "watching" not in text.lower(), path
            assert "exempt in the generated admission configuration" in text, path
        elif name != "kustomization":
            assert "exempt in the generated" not in text, path


def test_a_checked_namespace_still_watches() -> None:
    text = namespace_files(demo_plan())["phase1-audit/team-a.yaml"]
    assert "Watching restricted:latest" in text


def test_the_readme_does_not_tell_an_exempt_namespace_to_watch() -> None:
    from migrator.app.generate import generate_files

    files, _patched, _residual = generate_files(demo_plan(), {}, ("json6902",))
    (row,) = [line for line in files["README.md"].splitlines()
              if line.startswith("| `kube-system` |")]
    assert "none (exempt)" in row and "exempt in admission-config.yaml" in row
    assert "keep it privileged" not in row and "baseline:latest" not in row
