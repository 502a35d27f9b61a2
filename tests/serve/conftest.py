"""The browser the page tests share (Debian's Chromium through Playwright), one per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with chromium() as launched:
        yield launched
