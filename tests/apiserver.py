"""Alias of `fake_apiserver`, so tests may write `from apiserver import FakeApiServer`."""

from fake_apiserver import *  # noqa: F403
from fake_apiserver import __doc__ as _doc

__doc__ = _doc
