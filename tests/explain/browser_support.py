"""What the browser tests share: one headless Chromium per test module, and what it logged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from translator.explain.browser import BrowserUnavailable, start_chromium

#: a URL the page must never request
NETWORK_URL = re.compile(r"\bhttps?://", re.IGNORECASE)


def chromium_or_skip():
    try:
        return start_chromium()
    except BrowserUnavailable as error:
        pytest.skip(f"no headless browser can be started: {error}")


def open_page(driver, path: Path) -> None:
    """Load ``path`` from a file:// URL and drop the logs of earlier pages."""
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since it was opened (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def assert_offline(driver, page: Path) -> None:
    """No console error or warning, no request but the page itself, and no http(s) URL in its text."""
    assert console_errors(driver) == []
    requests = [url for url in requested_urls(driver) if url != page.resolve().as_uri()]
    assert [url for url in requests if not url.startswith("data:")] == []
    assert not NETWORK_URL.search(page.read_text())


def highlighted(driver, pane_id: str) -> list[int]:
    script = f"return Array.from(document.querySelectorAll('#{pane_id} .line.hl')).map(e => Number(e.dataset.line))"
    return driver.execute_script(script)
