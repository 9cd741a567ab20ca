"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium.

The pages are served by Uvicorn, as ``liteflow dashboard`` serves them. With
``LITEFLOW_SCREENSHOTS=DIR`` the tests save the screenshots docs/operations.md shows there.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from liteflow.core import WorkflowAction, WorkflowInstance
from liteflow.dashboard import create_app
from liteflow.operate import Operator
from tests.operate import shop
from tests.operate.conftest import Shop
from tests.servers import require_chromium
from tests.support import wait_until

webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")

from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

APP = "tests.operate.shop:make_host"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary, driver_path = require_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class Served:
    url: str
    operator: Operator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(sqlite_shop: Shop, browser: Any) -> Iterator[Served]:
    """The dashboard of the shop's store, with its application, on a free port."""
    with Operator.open(sqlite_shop.url, APP) as operator:
        port = _free_port()
        app = create_app(operator, poll_interval=0.2)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
        thread.start()
        wait_until(lambda: server.started, what="the dashboard to serve")
        try:
            yield Served(f"http://127.0.0.1:{port}", operator)
        finally:
            browser.get("about:blank")  # closes the page's live-update stream
            server.should_exit = True
            thread.join(10)


def screenshot(browser: Any, name: str) -> None:
    folder = os.environ.get("LITEFLOW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(folder) / f"{name}.png"))


def wait_for(browser: Any, condition: Any, timeout: float = 10) -> Any:
    return WebDriverWait(browser, timeout).until(condition)


def never_ran_script(browser: Any) -> None:
    assert browser.execute_script("return window.__pwned === undefined") is True
    try:
        text = browser.switch_to.alert.text
    except NoAlertPresentException:
        return
    raise AssertionError(f"an alert opened: {text}")


def test_list_then_instance_then_retry_changes_the_store(
    browser: Any, served: Served, sqlite_shop: Shop
) -> None:
    browser.get(f"{served.url}/instances")
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 5
    screenshot(browser, "dashboard-list")
    browser.find_element(By.LINK_TEXT, sqlite_shop.suspended).click()
    wait_for(browser, expected_conditions.title_contains(sqlite_shop.suspended))
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "suspended"
    failed = browser.find_element(By.CSS_SELECTOR, 'svg .step[data-step="1"]')
    assert "state-failed" in failed.get_attribute("class")
    screenshot(browser, "dashboard-instance")
    browser.find_element(By.CSS_SELECTOR, 'form[action$="/retry"] input[name="actor"]').send_keys("ann")
    browser.find_element(By.CSS_SELECTOR, 'form[action$="/retry"] button').click()
    alert = wait_for(browser, expected_conditions.alert_is_present())
    assert alert.text == f"Retry workflow {sqlite_shop.suspended}?"
    alert.accept()
    flash = wait_for(
        browser, expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".flash.done"))
    )
    assert flash.text == "retried"
    instance = served.operator.instance(sqlite_shop.suspended)
    assert instance.status == WorkflowInstance.RUNNABLE
    assert [(a.action, a.actor) for a in instance.actions] == [(WorkflowAction.RETRY, "ann")]


def test_cancelling_the_confirmation_changes_nothing(browser: Any, served: Served, sqlite_shop: Shop) -> None:
    browser.get(f"{served.url}/instances/{sqlite_shop.runnable}")
    browser.find_element(By.CSS_SELECTOR, 'form[action$="/terminate"] button').click()
    wait_for(browser, expected_conditions.alert_is_present()).dismiss()
    time.sleep(0.3)  # a submitted form would have navigated by now
    assert browser.current_url == f"{served.url}/instances/{sqlite_shop.runnable}"
    assert served.operator.instance(sqlite_shop.runnable).status == WorkflowInstance.RUNNABLE


def test_crafted_data_and_error_messages_do_not_run_script(
    browser: Any, served: Served, sqlite_shop: Shop
) -> None:
    for target in (
        "/instances",
        f"/instances/{sqlite_shop.suspended}",
        f"/instances/{sqlite_shop.terminated}",
        "/definitions",
        "/definitions/Order/1",
    ):
        browser.get(f"{served.url}{target}")
        wait_for(browser, lambda driver: driver.execute_script("return document.readyState") == "complete")
        never_ran_script(browser)
    browser.get(f"{served.url}/instances/{sqlite_shop.suspended}")
    script = shop.MARKUP.split("<img")[0]  # the JSON shown escapes the quotes of the rest
    assert script in browser.find_element(By.CSS_SELECTOR, "pre.json").text
    browser.find_element(By.CSS_SELECTOR, "details.error summary").click()
    assert shop.MARKUP in browser.find_element(By.CSS_SELECTOR, "details.error pre").text
    assert browser.find_elements(By.CSS_SELECTOR, "main script, main img") == []
    never_ran_script(browser)


def test_an_instance_page_updates_itself_as_the_workflow_runs(
    browser: Any, served: Served, sqlite_shop: Shop
) -> None:
    browser.get(f"{served.url}/instances/{sqlite_shop.batch}")
    screenshot(browser, "dashboard-graph")
    browser.get(f"{served.url}/instances/{sqlite_shop.runnable}")
    assert browser.find_element(By.CSS_SELECTOR, "h1 .badge").text == "runnable"
    with sqlite_shop.host() as host:
        host.publish_event("approved", sqlite_shop.approval_key)
        wait_for(
            browser,
            lambda driver: driver.find_element(By.CSS_SELECTOR, "h1 .badge").text == "complete",
        )
    assert int(browser.execute_script("return document.body.dataset.refreshed")) >= 1
    done = browser.find_element(By.CSS_SELECTOR, 'svg .step[data-step="2"]')
    assert "state-complete" in done.get_attribute("class")
