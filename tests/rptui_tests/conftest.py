"""Fixtures the app's pilot tests share (helpers: ``app_stubs``, ``screen_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rptui.store.workspace import Workspace
from tests.rptui_tests.app_stubs import DEMO_IMAGES, DEMO_SIZE
from tests.rptui_tests.screen_helpers import make_demo_workspace


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Workspace:
    """DEMO_IMAGES generated images of DEMO_SIZE px and a closed project "demo"."""
    return make_demo_workspace(tmp_path / "ws", count=DEMO_IMAGES, size=DEMO_SIZE)
