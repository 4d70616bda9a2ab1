"""The Pod Security Standards engine: levels, versions, checks and their evaluation.

Pure functions over plain pod dictionaries (camelCase, as the API server serves them).
Nothing in this package reads files, talks to a cluster or prints.
"""
