"""The browser tests' world: Debian's chromium driven by Playwright, against gunicorn + `tracker worker`.

Chromium is not optional here: when it is missing the tests fail and say how to install it
(`make test` installs it when run as root), rather than pass without having looked at a page.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.conftest import production_stack, stack_env

CHROMIUM = Path(os.environ.get("TRACKER_TEST_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SECRET_KEY = "test-secret-key"  # the app fixture's, so both sign and seal alike
INSTALL = ("the browser tests need Debian's chromium at {path}: install it with `apt-get install -y chromium` "
           "(as root; `make test` does this itself when run as root), or point TRACKER_TEST_CHROMIUM at a Chromium")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium (Debian's binary, not a download), shared by every browser test of the session."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(INSTALL.format(path=CHROMIUM), pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright's Python package: pip install -c constraints.txt -e '.[test]'",
                    pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    """A fresh browser context, JavaScript off: every page must work without it; a laptop-sized window."""
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone(chromium):
    """A phone-sized context (JavaScript on, to measure the layout)."""
    context = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def dashboard_stack(app, pg_url, redis_url, pki, tmp_path):
    """gunicorn, `tracker worker` and the webhook worker on the test database and Redis; the base URL."""
    env = stack_env(pg_url, redis_url, pki, TRACKER_SWEEP_INTERVAL="1", TRACKER_SWEEP_GRACE="1",
                    TRACKER_SECRET_KEY=SECRET_KEY)
    with production_stack(env, tmp_path) as running:
        yield running.base


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
