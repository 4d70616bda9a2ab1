"""RBAC resolution, pure: who may `use` which PodSecurityPolicy, and who may relabel namespaces.

See `migrator.rbac.access`.
"""
