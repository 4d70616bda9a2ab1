"""Where the tests' data lives.

Everything the suite needs is inside `tests/data/` (recorded API-server exchanges, the
real-world PSP corpus), so a fresh clone passes alone. The one exception is the upstream Pod
Security conformance corpus (3,573 fixtures), kept outside the project: it is found through
`MIGRATOR_PSS_CONFORMANCE` (default `../shared/pss-conformance` beside the project); without
it those cases are skipped with one visible line, unless `MIGRATOR_REQUIRE_CONFORMANCE=1`
(as `.ci/run` sets), which makes its absence a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RECORDINGS = DATA / "apiserver"
PSP_CORPUS = DATA / "psp-corpus"
CONFORMANCE = Path(
    os.environ.get("MIGRATOR_PSS_CONFORMANCE") or ROOT.parent / "shared" / "pss-conformance"
)
REQUIRE_CONFORMANCE = os.environ.get("MIGRATOR_REQUIRE_CONFORMANCE") == "1"


def conformance_present() -> bool:
    return CONFORMANCE.is_dir()
