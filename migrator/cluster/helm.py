"""Helm release history: the stored Helm releases that still hold a PodSecurityPolicy.

Helm 3 keeps every revision of a release in a Secret of type `helm.sh/release.v1`, with the
rendered manifest inside. From Kubernetes 1.25 on, `helm upgrade` of a release whose stored
manifest holds a `PodSecurityPolicy` fails (the API is gone, so Helm cannot build the diff),
and so does a rollback to such a revision.

Owns decoding one stored release (`decode_release`: the Secret's `data.release` is base64 of
Helm's own base64 of gzip of JSON), finding the PodSecurityPolicy documents of a rendered
manifest (`psp_documents`), and `read_helm_history`, the only I/O here: GET requests listing
those Secrets with a field selector, page by page. A 403 (or any other failed page) is
recorded in `HelmHistory.unreadable`, never raised.

Only what the report needs is kept: each release's namespace, name, revision, chart name and
version, status, and the name, apiVersion and template path of each PodSecurityPolicy. The
values, the other manifests, and the rest of each Secret are dropped as each page is read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

HELM_SECRET_TYPE = "helm.sh/release.v1"
SECRETS_PATH = "/api/v1/secrets"
#: Largest decompressed release accepted (Helm's own limit for a Secret is 1 MiB compressed).
MAX_RELEASE_BYTES = 64 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b\x08"
_DOCUMENT_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_SOURCE_COMMENT = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)
_MENTIONS_PSP = re.compile(r"\bkind:\s*[\"']?PodSecurityPolicy\b")
_KIND_LINE = re.compile(r"^kind:\s*[\"']?PodSecurityPolicy[\"']?\s*$", re.MULTILINE)
_NAME_LINE = re.compile(r"^  name:\s*[\"']?([^\"'\s#]+)", re.MULTILINE)
_API_LINE = re.compile(r"^apiVersion:\s*[\"']?([^\"'\s#]+)", re.MULTILINE)


class ReleaseDecodeError(ValueError):
    """A stored release that is not base64, gzip or JSON as Helm writes it."""


class _PageLister(Protocol):
    """The part of `migrator.cluster.client.ClusterClient` this module uses."""

    def list_pages(
        self, path: str, query: Mapping[str, str] | None = None
    ) -> Iterator[tuple[Any, dict[str, Any] | None]]: ...


@dataclass(frozen=True, slots=True)
class HelmPSP:
    """One PodSecurityPolicy document of a rendered manifest."""

    name: str
    api_version: str
    source: str  # the chart template it came from (`# Source:` comment), or ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "api_version": self.api_version, "source": self.source}


@dataclass(frozen=True, slots=True)
class ReleaseRevision:
    """One stored revision of a release, reduced to what the report shows."""

    namespace: str
    name: str
    revision: int
    chart: str
    chart_version: str
    status: str
    psps: tuple[HelmPSP, ...]


@dataclass
class HelmHistory:
    """What the release Secrets say: the revisions holding a PSP, and how complete that is."""

    #: Why the Secrets could not be (completely) listed, or None.
    unreadable: str | None = None
    #: Release Secrets read.
    secrets: int = 0
    #: `namespace/secret: reason` of each Secret whose release could not be decoded.
    undecodable: list[str] = field(default_factory=list)
    #: Every revision that holds at least one PodSecurityPolicy.
    with_psp: list[ReleaseRevision] = field(default_factory=list)
    #: Latest revision number seen per release `(namespace, name)`, PSP or not.
    latest: dict[tuple[str, str], int] = field(default_factory=dict)
    #: Revision numbers whose status is `deployed`, per release.
    deployed: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, revision: ReleaseRevision) -> None:
        key = (revision.namespace, revision.name)
        self.latest[key] = max(self.latest.get(key, 0), revision.revision)
        if revision.status == "deployed":
            self.deployed[key] = max(self.deployed.get(key, 0), revision.revision)
        if revision.psps:
            self.with_psp.append(revision)

    def add_secret(self, secret: Mapping[str, Any]) -> None:
        """Decode one release Secret and keep only the summary; others are ignored."""
        if secret.get("type") != HELM_SECRET_TYPE:
            return
        self.secrets += 1
        try:
            self.add(revision_of_secret(secret))
        except ReleaseDecodeError as exc:
            metadata = secret.get("metadata") or {}
            where = f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}"
            self.undecodable.append(f"{where}: {exc}")

    def is_current(self, revision: ReleaseRevision) -> bool:
        """True for the release's latest or deployed revision: the one `helm upgrade` reads."""
        key = (revision.namespace, revision.name)
        return revision.revision in (self.latest.get(key), self.deployed.get(key))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready and sorted: only names, revisions, charts, statuses and PSP names."""
        revisions = sorted(self.with_psp, key=lambda r: (r.namespace, r.name, r.revision))
        return {
            "checked": True,
            "unreadable": self.unreadable,
            "secrets": self.secrets,
            "releases": len(self.latest),
            "undecodable": sorted(self.undecodable),
            "revisions": [
                {
                    "namespace": r.namespace,
                    "name": r.name,
                    "revision": r.revision,
                    "chart": r.chart,
                    "chart_version": r.chart_version,
                    "status": r.status,
                    "current": self.is_current(r),
                    "psps": [p.to_dict() for p in sorted(r.psps, key=lambda p: p.name)],
                }
                for r in revisions
            ],
        }


# -- decoding ------------------------------------------------------------------------------


def decode_release(data: str | bytes) -> dict[str, Any]:
    """The release JSON stored in a Secret's `data.release` (still base64 as served)."""
    try:
        helm_encoded = base64.b64decode(data, validate=True)
        raw = base64.b64decode(helm_encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ReleaseDecodeError("not base64") from exc
    if raw[:3] == _GZIP_MAGIC:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, MAX_RELEASE_BYTES)
        except zlib.error as exc:
            raise ReleaseDecodeError("not valid gzip") from exc
        if inflater.unconsumed_tail:
            raise ReleaseDecodeError(f"larger than {MAX_RELEASE_BYTES // (1024 * 1024)} MiB")
    try:
        release = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReleaseDecodeError("not JSON") from exc
    if not isinstance(release, dict):
        raise ReleaseDecodeError("not a release object")
    return release


def _documents(manifest: str) -> list[str]:
    return [doc for doc in _DOCUMENT_SEPARATOR.split(manifest) if doc.strip()]


def _psps_in(obj: Any, source: str) -> list[HelmPSP]:
    if not isinstance(obj, dict):
        return []
    if obj.get("kind") == "List" and isinstance(obj.get("items"), list):
        return [p for item in obj["items"] for p in _psps_in(item, source)]
    if obj.get("kind") != "PodSecurityPolicy":
        return []
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return [HelmPSP(str((metadata or {}).get("name") or ""), str(obj.get("apiVersion") or ""),
                    source)]


def psp_documents(manifest: str) -> list[HelmPSP]:
    """The PodSecurityPolicies of a rendered (multi-document YAML) manifest, in order.

    Documents that do not mention `kind: PodSecurityPolicy` are never parsed. A PSP document
    that is not valid YAML is still found by its `kind:` line.
    """
    found: list[HelmPSP] = []
    for doc in _documents(manifest):
        if not _MENTIONS_PSP.search(doc):
            continue
        source_match = _SOURCE_COMMENT.search(doc)
        source = source_match.group(1) if source_match else ""
        try:
            obj = yaml.safe_load(doc)
        except yaml.YAMLError:
            if _KIND_LINE.search(doc):
                name, api = _NAME_LINE.search(doc), _API_LINE.search(doc)
                found.append(HelmPSP(name.group(1) if name else "",
                                     api.group(1) if api else "", source))
            continue
        found.extend(_psps_in(obj, source))
    return found


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def revision_of_secret(secret: Mapping[str, Any]) -> ReleaseRevision:
    """The summary of the release stored in one `helm.sh/release.v1` Secret."""
    data = secret.get("data") or {}
    encoded = data.get("release") if isinstance(data, dict) else None
    if not isinstance(encoded, str) or not encoded:
        raise ReleaseDecodeError("no data.release")
    release = decode_release(encoded)
    metadata = secret.get("metadata") or {}
    labels = metadata.get("labels") or {} if isinstance(metadata, dict) else {}
    chart = release.get("chart") if isinstance(release.get("chart"), dict) else {}
    chart_meta = (chart or {}).get("metadata")
    chart_meta = chart_meta if isinstance(chart_meta, dict) else {}
    info = release.get("info") if isinstance(release.get("info"), dict) else {}
    manifest = release.get("manifest")
    return ReleaseRevision(
        namespace=str(release.get("namespace") or metadata.get("namespace") or ""),
        name=str(release.get("name") or labels.get("name") or ""),
        revision=_int(release.get("version") or labels.get("version")),
        chart=str(chart_meta.get("name") or ""),
        chart_version=str(chart_meta.get("version") or ""),
        status=str((info or {}).get("status") or labels.get("status") or ""),
        psps=tuple(psp_documents(manifest)) if isinstance(manifest, str) else (),
    )


# -- reading -------------------------------------------------------------------------------


def read_helm_history(client: _PageLister) -> HelmHistory:
    """Every Helm 3 release revision stored in the cluster that still holds a PSP.

    Lists only Secrets of type `helm.sh/release.v1` (`fieldSelector`), paginated, with GET.
    """
    history = HelmHistory()
    query = {"fieldSelector": f"type={HELM_SECRET_TYPE}"}
    for response, body in client.list_pages(SECRETS_PATH, query):
        if body is None:
            status = int(getattr(response, "status", 0))
            message = str(response.status_message())
            history.unreadable = (
                f"forbidden: {message}" if status == 403
                else f"{status} {getattr(response, 'reason', '')}: {message}".strip()
            )
            break
        items = body.get("items")
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                history.add_secret(item)
        del body, items
    return history
