"""Fixtures for the alarm engine tests: every engine test runs against both builds.

The compiled build is skipped only when it is not built and GUARDROOM_REQUIRE_COMPILED is not
set (CI sets it, so a missing build fails there instead of skipping). Helpers live in
engine_rig.py.
"""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine_rig import BUILDS, Rig, engine_module, make_site  # noqa: E402


@pytest.fixture(params=BUILDS)
def eng(request):
    """The engine module of one build."""
    return engine_module(request.param)


@pytest.fixture
def mk(eng):
    """mk(zones=[...], **site_options) -> Rig on the parametrized build."""
    def _mk(zones=(), **kw):
        return Rig(eng, make_site(zones, **kw))
    return _mk
