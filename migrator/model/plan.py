"""The plan's types, pure: plan.json as the program sees it, decoded once.

`schemas/plan.schema.json` is the contract of the file; these TypedDicts are its shape
inside the program once unpacked (the file writes each repeated violation and fix text once:
`migrator.model.packed`), so the modules that read a plan (report, generate, apply, patch) are
type-checked against it instead of reading `dict[str, Any]` by string keys.
`migrator.plan.decide.build_plan` produces a `Plan`; `migrator.files.planfile.load_plan`
decodes one from disk (checking the parts every command relies on).
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

#: plan.json's `schema` value, and its file name in an output folder.
PLAN_SCHEMA = "migrator.plan/v2"
PLAN_FILE = "plan.json"


class Violation(TypedDict):
    check: str
    reason: str
    detail: str


class Blocker(TypedDict):
    """A check that stops an object at a level and version, with its fix."""

    object: str
    origin: str | None
    template: bool
    active: bool
    level: str
    version: str
    check: str
    reason: str
    detail: str
    fix: str
    patchable: bool
    #: for a rejection today: the PSP whose rule rejects the pods
    psp: NotRequired[str | None]
    #: for a pod shape held more than once: how many pods it stands for
    count: NotRequired[int]


class Subject(TypedDict):
    """A workload template or pod that was judged, with its verdicts per level:version."""

    kind: str
    #: a custom resource judged by the pod template it carries
    custom: bool
    name: str
    origin: str
    template: bool
    active: bool
    owner: str | None
    runtime_class: str | None
    exempt: bool
    #: on today's API server
    verdicts: dict[str, list[Violation]]
    #: for a pod shape held more than once: how many pods share it (`name` is the first)
    count: NotRequired[int]
    #: ... and the first few of their names, sorted
    examples: NotRequired[list[str]]
    #: on the server after the upgrade, where it differs from `verdicts`
    verdicts_after_upgrade: NotRequired[dict[str, list[Violation]]]
    #: the 422 errors by server ("now", "after") that refuse to create its pods
    invalid: NotRequired[dict[str, list[str]]]


class Flip(TypedDict):
    """A template whose strictest level differs between today's server and the upgraded one."""

    object: str
    template: bool
    active: bool
    before: str
    after: str
    server_before: str
    server_after: str
    checks: list[str]
    text: str


class InvalidCreate(TypedDict):
    """Pods a server refuses to create (422) before Pod Security judges them."""

    object: str
    server: str
    errors: list[str]


class Mutation(TypedDict):
    """A workload whose pods differ from its template in security fields, and why."""

    workload: str
    pod: str
    psp: str | None
    attributed_to: str
    changes: list[dict[str, Any]]
    pod_level: str
    template_level: str
    passes_only_because_of_mutation: bool
    #: no pod runs: the changes are those the PSP that would admit the template injects
    predicted: NotRequired[bool]


class LostDefaults(TypedDict):
    """A workload whose pods get values from a PSP its template lacks."""

    workload: str
    psp: str | None
    predicted: bool
    fields: list[str]
    #: whether the generated patches make them explicit
    patched: bool


class Recommended(TypedDict):
    enforce: str
    enforce_version: str
    audit: str
    audit_version: str
    warn: str
    warn_version: str


class CeilingPSP(TypedDict):
    psp: str
    strict: str | None
    practical: str | None


class Ceiling(TypedDict):
    strict: str | None
    practical: str | None
    psps: list[CeilingPSP]


class LabelProblem(TypedDict):
    label: str
    value: str
    message: str


class LoweredLabel(TypedDict):
    """The stricter level a namespace enforces today, and the looser one recommended."""

    current: str
    recommended: str


class PlanNamespace(TypedDict):
    """One namespace's recommendation, its reasons and what is in the way."""

    name: str
    system: bool
    exempt: bool
    current_labels: dict[str, str]
    current_policy: dict[str, str]
    label_problems: list[LabelProblem]
    floor: dict[str, str]
    ceiling: Ceiling
    recommended: Recommended
    labels: dict[str, str]
    after_patches: str
    looser_than_psp: bool
    looser_blockers: list[Blocker]
    lowers_existing: LoweredLabel | None
    warnings: list[str]
    suggestion: str | None
    reasoning: list[str]
    blockers: list[Blocker]
    rejected_today: list[Blocker]
    flips_across_upgrade: NotRequired[list[Flip]]
    invalid: NotRequired[list[InvalidCreate]]
    mutation: list[Mutation]
    lost_psp_defaults: list[LostDefaults]
    subjects: list[Subject]
    server_dry_run: NotRequired[dict[str, Any] | None]


class Identity(TypedDict):
    """`migrator.model.identity.ClusterIdentity.to_dict()`."""

    server: str
    context: str | None
    kube_system_uid: str | None


class Cluster(TypedDict):
    source: str
    server_version: str | None
    psp_api: bool | None
    #: the cluster a live read (or the snapshot planned) was made on; None for manifests
    #: (older plans lack it)
    identity: NotRequired[Identity | None]


class Servers(TypedDict):
    """Today's API server and the one after the upgrade."""

    current: str
    current_reported: str
    current_basis: str
    upgrade_to: str
    notes: list[str]


class AdmissionDefaults(TypedDict):
    defaults: dict[str, str]
    exempt_namespaces: list[str]
    exempt_runtime_classes: list[str]
    exempt_usernames: list[str]


class Unreadable(TypedDict):
    what: str
    reason: str
    consequence: str


class Summary(TypedDict):
    namespaces: int
    by_recommended_level: dict[str, int]
    looser_than_psp: list[str]
    lowers_existing: list[str]
    rejected_today: int
    blockers: int
    flips_across_upgrade: NotRequired[list[str]]
    invalid: NotRequired[list[str]]
    passing_only_by_mutation: list[str]


class Plan(TypedDict):
    """plan.json."""

    schema: str
    generated_by: str
    cluster: Cluster
    servers: NotRequired[Servers]
    pin_version: str
    target_version: str
    admission_config: AdmissionDefaults
    unreadable: list[Unreadable]
    duplicates: list[str]
    summary: Summary
    psps: list[dict[str, Any]]
    rbac_cleanup: dict[str, Any]
    namespaces: list[PlanNamespace]
    server_dry_run: NotRequired[dict[str, Any] | None]
    #: The PSP rules Pod Security does not enforce, proved (absent in older plans).
    residual: NotRequired[dict[str, Any]]
