"""Headless Chromium for the page tests and the README screenshot (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium; never a driver that downloads its own browser).

Selenium is in the ``dev`` extra; :func:`start_chromium` raises :class:`BrowserUnavailable`
(with the reason) when Selenium, the browser or its driver is missing or does not start.
"""

from __future__ import annotations

import shutil

#: where Debian's packages put the browser and its driver (other names as PATH finds them)
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


class BrowserUnavailable(RuntimeError):
    """No headless browser can be started here; the message says why."""


def start_chromium(width: int = 1400, height: int = 900):
    """A headless Chromium WebDriver logging the console and the network (``goog:loggingPrefs``)."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserUnavailable(f"selenium is not installed ({error}); pip install -e '.[dev]'") from None
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver = next((shutil.which(d) for d in DRIVERS if shutil.which(d)), None)
    if browser is None or driver is None:
        raise BrowserUnavailable("no chromium and chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--allow-file-access-from-files"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        return webdriver.Chrome(service=Service(executable_path=driver), options=options)
    except WebDriverException as error:
        raise BrowserUnavailable(f"chromium did not start: {' '.join(str(error).split())[:300]}") from None
