"""Headless Chromium for the browser tests: Debian's chromium and chromium-driver, driven by Selenium.

Nothing is downloaded: Selenium is pointed at /usr/bin/chromium and /usr/bin/chromedriver, so its
driver manager never runs. Without them the tests skip, saying why; under CI (``CI`` set) they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from bars_support import ROOT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# How long to wait for something a person would wait for (a page, a run): generous, never asserted.
PATIENCE = 60.0
T = TypeVar("T")


def _binary(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_binary() -> str | None:
    return os.environ.get("CHROMIUM_BIN") or _binary("chromium", "chromium-browser")


def chromedriver_binary() -> str | None:
    return os.environ.get("CHROMEDRIVER_BIN") or _binary("chromedriver")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (pip install -r requirements-dev.txt)"
    if chromium_binary() is None:
        return "Chromium is not installed (apt-get install -y chromium chromium-driver)"
    if chromedriver_binary() is None:
        return "chromedriver is not installed (apt-get install -y chromium-driver)"
    return None


def require_browser() -> None:
    reason = missing()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"The browser tests must run in CI, but {reason}.", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[WebDriver]:
    """A fresh headless Chromium (its own profile and download folder), quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver or a browser
    profile = tempfile.mkdtemp(prefix="tkw-chromium-")
    downloads = Path(profile) / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium_binary())
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(chromedriver_binary())), options=options)
    driver.downloads = downloads  # type: ignore[attr-defined]
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        if width < 600:  # below Chromium's smallest window: emulate the phone's viewport
            metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True}
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """What a person does with the portal: find things by what they read, click, type, wait."""

    def __init__(self, driver: WebDriver, test_name: str) -> None:
        self.driver = driver
        self.test_name = slug(test_name)
        self.shots: list[Path] = []

    # -- finding --------------------------------------------------------------------------------

    def css(self, selector: str) -> WebElement:
        return self.driver.find_element("css selector", selector)

    def all(self, selector: str) -> list[WebElement]:
        return list(self.driver.find_elements("css selector", selector))

    def by_id(self, element_id: str) -> WebElement:
        return self.driver.find_element("id", element_id)

    def button(self, label: str, within: str = "body") -> WebElement:
        """The visible button whose text is ``label`` (as a person reads it)."""
        for candidate in self.all(f"{within} button"):
            if candidate.is_displayed() and candidate.text.strip() == label:
                return candidate
        raise AssertionError(f"no visible button {label!r} in {within}")

    def labelled(self, label: str) -> WebElement:
        """The control a <label> names, as assistive technology finds it."""
        for candidate in self.all("label"):
            # textContent, not .text: a folded-away control is still there, only hidden.
            if str(candidate.get_attribute("textContent")).strip() == label and candidate.get_attribute("for"):
                return self.by_id(str(candidate.get_attribute("for")))
        raise AssertionError(f"no control labelled {label!r}")

    def text(self, selector: str) -> str:
        return str(self.css(selector).text)

    def visible(self, selector: str) -> bool:
        found = self.all(selector)
        return bool(found) and found[0].is_displayed()

    # -- doing ----------------------------------------------------------------------------------

    def open(self, url: str) -> None:
        self.driver.get(url)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete", "the page to load")

    def type(self, element: WebElement, text: str) -> None:
        element.clear()
        element.send_keys(text)

    def choose_organisation(self, ods: str) -> None:
        self.type(self.labelled("Organisation ODS code"), ods)
        self.button("Use organisation").click()
        self.wait(lambda: self.driver.title.endswith(f": {ods.upper()}"), f"the portal to show organisation {ods}")

    def tab(self, name: str) -> None:
        tab = next(t for t in self.all("[role=tab]") if t.text.strip() == name)
        tab.click()
        self.wait(lambda: tab.get_attribute("aria-selected") == "true", f"the {name} tab")

    # -- waiting --------------------------------------------------------------------------------

    def wait(self, condition: Callable[[], T], what: str, timeout: float = PATIENCE) -> T:
        """Poll until ``condition`` is truthy (what a person would wait for); fail saying what never came."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while True:
            try:
                value = condition()
                if value:
                    return value
            except Exception as err:  # the element is not there yet, or was just re-rendered
                last_error = err
            if time.monotonic() > deadline:
                self.screenshot("timeout")
                detail = f" (last error: {last_error!r})" if last_error else ""
                alert = self.all("#alert")
                shown = alert[0].text if alert and alert[0].is_displayed() else ""
                raise AssertionError(f"waited for {what}, in vain{detail}. Alert on the page: {shown!r}")
            time.sleep(0.1)

    def wait_text(self, selector: str, text: str, *, any_of: bool = False) -> str:
        def found() -> str | None:
            for element in self.all(selector):
                if text.lower() in element.text.lower():
                    return str(element.text)
                if not any_of:
                    break
            return None

        return self.wait(found, f"{text!r} in {selector}")

    # -- evidence -------------------------------------------------------------------------------

    def screenshot(self, step: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.test_name}--{slug(step)}.png"
        self.driver.save_screenshot(str(path))
        self.shots.append(path)
        return path

    def console_errors(self) -> list[dict[str, Any]]:
        """Severe browser console entries (script errors, CSP violations), the favicon aside."""
        entries = self.driver.get_log("browser")
        return [e for e in entries if e.get("level") == "SEVERE" and "favicon" not in str(e.get("message"))]
