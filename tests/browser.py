"""Debian's chromium driven by the Playwright pip package (shared by the browser tests).

`playwright install` cannot download its own browsers here, so the system chromium is launched by
path. As root it needs --no-sandbox, and with a profile that is not empty it tries the network
(component updates, sync): Playwright gives every launch a fresh, empty profile, and the flags
below turn the rest off.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def chromium_path() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@contextmanager
def chromium_page(width: int = 1400, height: int = 900) -> Iterator:
    """A page in headless chromium; skips when there is no chromium (CI installs it: .ci/run)."""
    binary = chromium_path()
    if binary is None:
        pytest.skip("no Chromium found (apt-get install chromium; CI installs it): the browser checks need one")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=binary, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def screenshot(page, name: str) -> Path:
    """Keep what the page shows under test-artifacts/ (gitignored) and say where."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=True, timeout=30_000)
    except Exception as exc:  # a screenshot must never hide the failure it documents
        return Path(f"{path} (screenshot failed: {exc})")
    return path
