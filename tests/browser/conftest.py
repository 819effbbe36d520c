"""Browser tests: the portal and the HTML reports in headless Chromium, against the local runner."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_support import Page, chromium, require_browser
from emulator_support import Emulator, start_emulator, stop_emulator


@pytest.fixture(scope="session")
def browser_ready() -> None:
    require_browser()


@pytest.fixture(scope="session")
def emulator(browser_ready: None) -> Iterator[Emulator]:
    # The local runner as `make run` starts it; receiver runs may target the stub on 127.0.0.1.
    running = start_emulator({"ALLOW_PRIVATE_RECEIVERS": "true"})
    yield running
    stop_emulator(running)


@pytest.fixture
def page(browser_ready: None, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh Chromium profile per test (empty localStorage), phone tests pass their own size."""
    size = getattr(request, "param", (1280, 900))
    with chromium(*size) as driver:
        shown = Page(driver, request.node.name)
        yield shown
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shown.screenshot("failed")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
