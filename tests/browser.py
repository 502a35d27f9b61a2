"""Debian's Chromium driven through Playwright (which downloads nothing), for the tests
that look at a page. Without a browser those tests skip, except in CI, which sets
``PAPERSCOPE_REQUIRE_BROWSER=1`` so that a missing browser fails instead."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def require_browser() -> None:
    """Skip the calling test module when no browser can be driven (outside CI)."""
    if os.environ.get("PAPERSCOPE_REQUIRE_BROWSER") == "1":
        return
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium to drive (scripts/test installs it with apt)", allow_module_level=True)


@contextmanager
def chromium() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
