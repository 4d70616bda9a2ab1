"""migrator: take a Kubernetes cluster off PodSecurityPolicy and onto Pod Security Admission."""

__version__ = "0.1.0"
