"""Which cluster a plan (or a rollback file) was made on, and whether another one is it.

Owns `ClusterIdentity`: the API server URL, the kubeconfig context name, and the UID of the
`kube-system` namespace, which no rename of a context or change of address alters (it is
created once with the cluster). `mismatch` says why two identities are not the same
cluster: the UIDs decide when both are known; otherwise the server URLs do. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from migrator.model.plan import Identity


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """The cluster a live read was made on."""

    server: str
    context: str | None = None
    #: metadata.uid of the kube-system namespace; None when it could not be read.
    uid: str | None = None

    def describe(self) -> str:
        """`https://… (context prod, kube-system uid 1234)`, for messages."""
        details = [f"context {self.context}" if self.context else "no context name"]
        details.append(f"kube-system uid {self.uid}" if self.uid else "kube-system uid unknown")
        return f"{self.server} ({', '.join(details)})"

    def to_dict(self) -> Identity:
        return {"server": self.server, "context": self.context, "kube_system_uid": self.uid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ClusterIdentity | None:
        """The identity recorded in a plan's (or rollback file's) `cluster`, None when the
        document records none (made from files)."""
        if not isinstance(data, Mapping) or not isinstance(data.get("server"), str):
            return None
        context, uid = data.get("context"), data.get("kube_system_uid")
        return cls(data["server"], context if isinstance(context, str) else None,
                   uid if isinstance(uid, str) and uid else None)

    def mismatch(self, current: ClusterIdentity) -> str | None:
        """Why `current` is not the cluster this identity names, or None when it is.

        Both kube-system UIDs known: they decide (the same cluster behind a new address or
        context name is the same cluster). Otherwise the server URLs must be equal.
        """
        if self.uid and current.uid:
            if self.uid == current.uid:
                return None
            return f"the kube-system namespace UID differs ({self.uid} != {current.uid})"
        if self.server.rstrip("/") == current.server.rstrip("/"):
            return None
        return (f"the server differs ({self.server} != {current.server}) and the kube-system "
                "UID of one of them is unknown")
