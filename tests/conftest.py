"""Hypothesis profiles: ``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) makes every property test
draw the same examples on every run, so the CI gate is deterministic; the default profile keeps
hypothesis' random exploration for development runs."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
