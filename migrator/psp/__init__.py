"""PodSecurityPolicy analysis: which Pod Security level a PSP stands for, and what it does to pods.

Pure functions over PSP and pod dictionaries (camelCase, as the API server serves them);
nothing in this package reads files, talks to a cluster or prints.

- `analyze_psp` (mapping): strict and practical level, the reasons and loopholes behind
  them, the guarantees Pod Security will not keep, and the PSP's defaults.
- `psp_defaults`, `apply_defaults`, `explains` (mutation): what a PSP injects into pods,
  and which template-to-pod differences it accounts for.
- `admit`, `choose` (admission): whether a PSP admits a pod after its mutations, each rule
  it breaks, and which of several usable PSPs PSP admission picks.
"""

from migrator.psp.guarantees import LostGuarantee
from migrator.psp.mapping import Loophole, PSPAnalysis, Reason, analyze_psp
from migrator.psp.mutation import (
    Attribution,
    Default,
    Difference,
    apply_defaults,
    explains,
    psp_defaults,
)
from migrator.psp.spec import Problem, read_psp

__all__ = [
    "Attribution",
    "Default",
    "Difference",
    "Loophole",
    "LostGuarantee",
    "PSPAnalysis",
    "Problem",
    "Reason",
    "analyze_psp",
    "apply_defaults",
    "explains",
    "psp_defaults",
    "read_psp",
]
