"""A person's path through the Airflow UI, in a real (headless) chromium: trigger a sync of two
lists through the DAG's Trigger form, watch the run succeed on its page, read the sync report.

Runs on the session's CeleryExecutor stack (tests/e2e/conftest.py). Screenshots of the form and
of the final pages go to $CRM_SYNC_ARTIFACTS_DIR/browser (default .local/test-artifacts/browser).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import DAG_ID, UI_TIMEOUT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LISTS = ["newsletter_nl", "events_webinars"]
#: how long the whole run may take to finish (UI_TIMEOUT: a page element to show)
RUN_TIMEOUT = 900


def screenshot(driver: WebDriver, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def param_field(driver: WebDriver, param: str) -> WebElement:
    """The form field (label, input, help text) the trigger form renders for a DAG param."""
    return driver.find_element(
        By.XPATH, f"//*[@name='element_{param}']/ancestor::*[@data-scope='field' and @data-part='root'][1]"
    )


def run_state_badge(driver: WebDriver) -> str | bool:
    """The run page header's state once the run has finished (else False: keep waiting)."""
    badges = driver.find_elements(By.CSS_SELECTOR, "[data-testid='header-card'] [data-testid='state-badge']")
    state = badges[0].text.strip() if badges else ""
    return state if state in ("Success", "Failed") else False


# The first e2e test also starts the stack (package fixture): its bound covers that too.
@pytest.mark.timeout(2400)
def test_trigger_two_lists_from_the_form_and_read_the_sync_report(browser, airflow_stack, artifacts_dir):
    driver, stack = browser, airflow_stack
    wait = WebDriverWait(driver, UI_TIMEOUT, ignored_exceptions=[StaleElementReferenceException])
    params = stack.get(f"/api/v2/dags/{DAG_ID}/details")["params"]
    run_id = f"browser_{uuid.uuid4().hex[:8]}"

    # -- the DAG page; its Trigger button opens the form with every param, titled and explained
    driver.get(f"{stack.base_url}/dags/{DAG_ID}")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='trigger-dag-button']"))).click()
    lists_input = wait.until(ec.visibility_of_element_located((By.NAME, "element_lists")))
    for name, param in params.items():
        field = param_field(driver, name)
        label = field.find_element(By.CSS_SELECTOR, "[data-part='label']").text
        assert label.rstrip(" *\n") == param["schema"]["title"], name  # "*": required
        help_text = field.find_element(By.CSS_SELECTOR, "[data-part='helper-text']").text
        assert help_text == param["description"], name
    assert not driver.find_element(By.NAME, "element_dry_run").is_selected(), "dry_run is off by default"
    # `lists` is optional (empty = all lists): the form must not mark it required with "*"
    lists_label = param_field(driver, "lists").find_element(By.CSS_SELECTOR, "[data-part='label']").text
    assert "*" not in lists_label, lists_label

    # -- two lists, one per line; dry_run left off
    lists_input.send_keys("\n".join(LISTS))
    screenshot(driver, artifacts_dir, "01-trigger-form")

    # Advanced options: the run id (so the test knows which run it made), and the conf the form built
    advanced = driver.find_element(By.CSS_SELECTOR, "[id$='trigger:advancedOptions']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", advanced)
    advanced.click()
    run_id_input = wait.until(ec.visibility_of_element_located((By.NAME, "dagRunId")))
    run_id_input.send_keys(run_id)
    dialog = driver.find_element(By.XPATH, "//*[@role='dialog'][.//*[@data-testid='trigger-dag-submit']]")
    wait.until(lambda _: all(f'"{name}"' in dialog.text for name in LISTS))
    screenshot(driver, artifacts_dir, "02-trigger-conf")
    submit = driver.find_element(By.CSS_SELECTOR, "[data-testid='trigger-dag-submit']")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    submit.click()

    # -- the UI goes to the new run's page, which follows the run until it finishes
    wait.until(ec.url_contains(f"/runs/{run_id}"))
    final = WebDriverWait(
        driver, RUN_TIMEOUT, poll_frequency=2, ignored_exceptions=[StaleElementReferenceException]
    ).until(run_state_badge)
    screenshot(driver, artifacts_dir, "03-run-page")
    assert final == "Success", stack.log_tails()
    run = stack.dag_run(DAG_ID, run_id)
    assert run["conf"]["lists"] == LISTS and run["conf"]["dry_run"] is False  # what the form sent

    # -- the plugin's sync report of that run: both lists, each synced
    driver.get(f"{stack.base_url}/crm-sync/runs/{run_id}")
    wait.until(ec.presence_of_element_located((By.XPATH, f"//tr[td[normalize-space()='{LISTS[0]}']]")))
    screenshot(driver, artifacts_dir, "04-sync-report")
    for name in LISTS:
        rows = driver.find_elements(By.XPATH, f"//tr[td[normalize-space()='{name}']]")
        assert rows and any("synced" in row.text for row in rows), (name, [row.text for row in rows])
    assert "product_updates" not in driver.find_element(By.TAG_NAME, "body").text
