"""`graphc serve`: the JSON API over real HTTP, and the console in a real browser (headless Chromium).

A worker runs the submitted runs; the server answers their waits as people and webhooks
would: tokens and roles, validation against the wait's schema, idempotency keys, one answer
per wait. Screenshots of the browser test are kept in `test-artefacts/`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="graphc serve needs its extra: pip install 'graphc[serve]'")
pytest.importorskip("dbos", reason="durable runs need DBOS: pip install 'graphc[durable]'")

from .conftest import EXAMPLES, ROOT
from .serving import Server, graphc_out
from .worker_processes import Workers

pytestmark = pytest.mark.slow  # real processes

INVOICE = EXAMPLES / "invoice" / "invoice.graph"
ORDER = ROOT / "tests" / "data" / "serve" / "order.graph"
ARTEFACTS = ROOT / "test-artefacts"


@pytest.fixture
def served(
    tmp_path: Path, workers: Callable[[str], Workers], monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """A database with two submitted runs waiting, a worker, tokens of each role, and the server.

    The worker reads a clock in a file (`clock`), so a test can let a day pass.
    """
    from runtime.clock import FileClock

    clock = FileClock(tmp_path / "clock")
    clock.set(time.time())
    monkeypatch.setenv("GRAPHC_CLOCK_FILE", str(clock.path))
    db = str(tmp_path / "runs.sqlite")
    tokens = {role: graphc_out("tokens", "add", f"{role}-person", "--role", role, "--db", db) for role in
              ("viewer", "operator", "admin")}  # fmt: skip
    graphc_out("submit", str(INVOICE), "--db", db, "--run-id", "inv", "--arg", "invoice=INV-1", "--arg", "amount=5")
    graphc_out("submit", str(ORDER), "--db", db, "--run-id", "order")
    workers(db).start("w1")
    server = Server(db, tmp_path)
    try:
        until(lambda: all(run(server, tokens["viewer"], r)["status"] == "waiting" for r in ("inv", "order")))
        yield {"server": server, "tokens": tokens, "db": db, "clock": clock}
    finally:
        server.close()


def run(server: Server, token: str, run_id: str) -> dict[str, Any]:
    response = server.api(token, "GET", f"/api/runs/{run_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


# ---- the API ---------------------------------------------------------------------------------------


def test_nobody_gets_in_without_a_live_token_and_a_viewer_changes_nothing(served: dict[str, Any]) -> None:
    server, tokens = served["server"], served["tokens"]
    assert server.api(None, "GET", "/api/runs").status_code == 401
    assert server.api("gct_not-a-token", "GET", "/api/runs").status_code == 401
    answer = {"input": {"approved": True, "note": None}}
    refused = server.api(tokens["viewer"], "POST", "/api/runs/inv/answer", json=answer)
    assert refused.status_code == 403 and "needs the operator role" in refused.json()["error"]
    assert server.api(tokens["viewer"], "POST", "/api/runs/inv/cancel").status_code == 403
    assert run(server, tokens["viewer"], "inv")["status"] == "waiting"
    stored = Path(served["db"]).read_bytes()
    assert not any(token.encode() in stored for token in tokens.values())  # kept as hashes only


def test_an_answer_is_checked_taken_once_and_recorded_with_who_gave_it(served: dict[str, Any]) -> None:
    server, operator = served["server"], served["tokens"]["operator"]
    bad = server.api(operator, "POST", "/api/runs/order/answer", json={"input": {"quantity": "many", "rush": False}})
    assert bad.status_code == 422 and "quantity" in bad.json()["error"]
    missing = server.api(operator, "POST", "/api/runs/order/answer", json={"input": {"rush": False}})
    assert missing.status_code == 422 and "`quantity` is missing" in missing.json()["error"]
    assert run(server, operator, "order")["status"] == "waiting"  # unchanged
    key = {"Idempotency-Key": "webhook-delivery-17"}
    good = {"input": {"quantity": 3, "rush": True}, "wait": 1}
    first = server.api(operator, "POST", "/api/runs/order/answer", json=good, headers=key)
    assert first.status_code == 200, first.text
    again = server.api(operator, "POST", "/api/runs/order/answer", json=good, headers=key)  # the webhook retried
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    late = server.api(operator, "POST", "/api/runs/order/answer", json=good)  # no key: a second answer
    assert late.status_code == 409
    done = until(lambda: (r := run(server, operator, "order"))["status"] == "success" and r)
    assert done["output"] == "3 paper, rushed"
    assert done["answered_by"] == {"1": "operator-person"}
    assert [s["node"] for s in done["history"]] == ["Ask", "End"]


def test_runs_are_listed_filtered_and_paged_and_the_openapi_document_is_served(served: dict[str, Any]) -> None:
    server, viewer = served["server"], served["tokens"]["viewer"]
    listed = server.api(viewer, "GET", "/api/runs", params={"status": "waiting", "limit": 1}).json()
    assert listed["total"] == 2 and len(listed["runs"]) == 1
    found = server.api(viewer, "GET", "/api/runs", params={"q": "invoiceapp"}).json()
    assert [r["id"] for r in found["runs"]] == ["inv"]
    assert server.api(viewer, "GET", "/api/runs", params={"graph": "Order"}).json()["total"] == 1
    shown = run(server, viewer, "inv")
    assert shown["waits_for"]["required"] == ["approved"] and shown["path"] == ["Submit", "Approve"]
    assert shown["history"][0]["changes"] == [["reminders", None, 0], ["trail", None, ["submitted INV-1 for 5.00"]]]
    document = server.api(None, "GET", "/api/openapi.json").json()
    assert {"/api/runs", "/api/runs/{run_id}/answer", "/api/runs/{run_id}/cancel"} <= set(document["paths"])


def test_runs_are_started_from_a_stored_spec_or_one_sent_by_an_admin(served: dict[str, Any]) -> None:
    server, tokens = served["server"], served["tokens"]
    operator, admin = tokens["operator"], tokens["admin"]
    body = {"graph": "Order", "run_id": "order-2"}
    assert server.api(tokens["viewer"], "POST", "/api/runs", json=body).status_code == 403
    key = {"Idempotency-Key": "start-order-2"}
    started = server.api(operator, "POST", "/api/runs", json=body, headers=key)
    assert started.status_code == 201, started.text
    assert started.json()["id"] == "order-2" and started.json()["status"] in ("queued", "running", "waiting")
    replayed = server.api(operator, "POST", "/api/runs", json=body, headers=key)  # one run, however often sent
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert server.api(operator, "POST", "/api/runs", json=body).status_code == 409  # the id is taken
    until(lambda: run(server, operator, "order-2")["status"] == "waiting")
    args = {"graph": "InvoiceApproval", "args": {"invoice": "INV-2", "amount": "lots"}}
    bad = server.api(operator, "POST", "/api/runs", json=args)
    assert bad.status_code == 422 and "amount" in bad.json()["error"]
    assert server.api(operator, "POST", "/api/runs", json={"graph": "Nothing"}).status_code == 404
    for odd in ({"start": ["Ask"]}, {"start": "Nowhere"}, {"max_steps": -1}, {"args": "x"}):
        assert server.api(operator, "POST", "/api/runs", json={"graph": "Order", **odd}).status_code == 422, odd
    source = (ROOT / "tests" / "data" / "durable" / "failing.graph").read_text()
    sent = {"source": source, "name": "failing.graph", "run_id": "sent"}
    refused = server.api(operator, "POST", "/api/runs", json=sent)
    assert refused.status_code == 403 and "admin" in refused.json()["error"]
    assert server.api(admin, "POST", "/api/runs", json=sent).status_code == 201
    assert until(lambda: (r := run(server, admin, "sent"))["status"] == "error" and r)["node"] == "Divide"
    hostile = {"source": "graph G -> str\nfrom os import getcwd\nnode A:\n    -> End(getcwd())\n", "name": "g.graph"}
    escaped = server.api(admin, "POST", "/api/runs", json=hostile)  # this server allows no imports
    assert escaped.status_code == 422 and "`os`" in escaped.json()["error"], escaped.text
    assert server.api(admin, "POST", "/api/runs", json={**sent, "name": "../x.graph"}).status_code == 422


def test_waiting_for_me_lists_the_waits_the_caller_may_answer(served: dict[str, Any]) -> None:
    server, tokens = served["server"], served["tokens"]
    mine = server.api(tokens["operator"], "GET", "/api/runs", params={"waiting": "me"}).json()
    assert sorted(r["id"] for r in mine["runs"]) == ["inv", "order"]
    assert server.api(tokens["viewer"], "GET", "/api/runs", params={"waiting": "me"}).json()["total"] == 0


def test_an_operator_cancels_a_run(served: dict[str, Any]) -> None:
    server, operator = served["server"], served["tokens"]["operator"]
    assert server.api(operator, "POST", "/api/runs/order/cancel").json()["status"] == "cancelled"
    assert server.api(operator, "POST", "/api/runs/order/cancel").status_code == 409  # it has ended
    refused = server.api(operator, "POST", "/api/runs/order/answer", json={"input": {"quantity": 1, "rush": False}})
    assert refused.status_code == 409


def test_a_failed_run_is_retried_and_a_run_forked_with_an_edited_state(served: dict[str, Any]) -> None:
    server, operator, db = served["server"], served["tokens"]["operator"], served["db"]
    graphc_out("submit", str(ROOT / "tests" / "data" / "durable" / "failing.graph"), "--db", db, "--run-id", "bad")
    until(lambda: run(server, operator, "bad")["status"] == "error")
    assert server.api(served["tokens"]["viewer"], "POST", "/api/runs/bad/retry").status_code == 403
    assert server.api(operator, "POST", "/api/runs/inv/retry").status_code == 409  # it has not failed
    retried = server.api(operator, "POST", "/api/runs/bad/retry")
    assert retried.status_code == 200 and retried.json()["id"] == "bad.retry-1"
    again = until(lambda: (r := run(server, operator, "bad.retry-1"))["status"] == "error" and r)
    assert [s["node"] for s in again["history"]] == ["First"]  # kept, not run again; `Divide` failed again
    edited = {"reminders": 2, "trail": ["submitted INV-1 for 5.00", "edited by hand"]}
    forked = server.api(operator, "POST", "/api/runs/inv/fork", json={"step": 1, "state": edited})
    assert forked.status_code == 200 and forked.json()["id"] == "inv.fork-1"
    waiting = until(lambda: (r := run(server, operator, "inv.fork-1"))["status"] == "waiting" and r)
    assert waiting["state"] == edited and [s["node"] for s in waiting["history"]] == ["Submit"]
    assert server.api(operator, "POST", "/api/runs/inv/fork", json={"step": 5}).status_code == 409
    made = graphc_out("runs", "fork", "inv", "--step", "0", "--db", db)
    assert made == "inv.fork-2"
    listed = graphc_out("runs", "list", "--db", db, "--graph", "InvoiceApproval", "--limit", "2")
    assert [line.split()[0] for line in listed.splitlines()[1:]] == ["inv.fork-1", "inv.fork-2"]


def test_a_one_off_link_answers_one_wait_without_a_login(served: dict[str, Any]) -> None:
    import re

    import httpx

    server, operator = served["server"], served["tokens"]["operator"]
    assert server.api(served["tokens"]["viewer"], "POST", "/api/runs/order/link").status_code == 403
    made = server.api(operator, "POST", "/api/runs/order/link").json()
    assert made["wait"] == 1 and made["url"].startswith("/answer/")
    with httpx.Client(base_url=server.url, timeout=30) as browser:  # someone who clicks the link in an e-mail
        page = browser.get(made["url"])
        assert page.status_code == 200 and "Ask" in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"csrf": csrf.group(1), "quantity": "lots", "rush": "false"}
        assert browser.post(made["url"], data=form).status_code == 422  # not a whole number: nothing changes
        assert run(server, operator, "order")["status"] == "waiting"
        done = browser.post(made["url"], data={**form, "quantity": "12"})
        assert done.status_code == 200 and "was taken" in done.text
        assert browser.get(made["url"]).status_code == 410  # one-off: the wait is answered
        altered = made["url"][:-3] + ("AAA" if not made["url"].endswith("AAA") else "BBB")
        assert browser.get(altered).status_code == 403
    finished = until(lambda: (r := run(server, operator, "order"))["status"] == "success" and r)
    assert finished["output"] == "12 paper" and finished["answered_by"] == {"1": "operator-person's link"}


def test_a_runs_events_stream_as_it_moves(served: dict[str, Any]) -> None:
    import subprocess
    import sys
    import threading

    import httpx

    server, operator, db = served["server"], served["tokens"]["operator"], served["db"]
    watcher = subprocess.Popen(  # `graphc runs watch`: JSON lines until the run ends
        [sys.executable, "-m", "graphc", "runs", "watch", "order", "--db", db],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    streamed: list[dict[str, Any]] = []

    def listen() -> None:  # the API's server-sent events, until the run ends
        headers = {"Authorization": f"Bearer {operator}"}
        with httpx.stream("GET", server.url + "/api/runs/order/events", headers=headers, timeout=60) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    streamed.append(json.loads(line[6:]))

    listener = threading.Thread(target=listen)
    listener.start()
    assert watcher.stdout is not None
    first = json.loads(watcher.stdout.readline())
    assert first == {"event": "status", "run": "order", "status": "waiting", "node": "Ask", "wakes": None, "wait": 1}
    until(lambda: streamed)  # the stream has begun: the answer comes after both have seen the wait
    answered = server.api(operator, "POST", "/api/runs/order/answer", json={"input": {"quantity": 2, "rush": False}})
    assert answered.status_code == 200
    rest, _ = watcher.communicate(timeout=60)
    listener.join(timeout=60)
    for events in ([first, *map(json.loads, rest.splitlines())], streamed):
        assert events[0]["status"] == "waiting" and events[-1]["status"] == "success"
        assert events[-1]["output"] == "2 paper"
        assert [e["step"]["kind"] for e in events if e["event"] == "step"] == ["node", "end"]
    assert watcher.returncode == 0


# ---- the console, in a real browser -----------------------------------------------------------------


def _browser() -> Any:
    """Headless Chromium from Debian's packages, driven by Selenium through Debian's chromedriver."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        why = "the browser tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        if os.environ.get("GRAPHC_REQUIRE_BROWSER"):
            pytest.fail(f"a browser is required here (GRAPHC_REQUIRE_BROWSER is set): {why}")
        pytest.skip(why)
    webdriver = pytest.importorskip("selenium.webdriver", reason="the browser tests need selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver), options=options)


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = _browser()
    ARTEFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def element(browser: Any, by: str, value: str) -> Any:
    """The element, once the page shows it (a click's page may still be loading)."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((by, value)))


def shown_status(browser: Any) -> str:
    """The status the run page shows now ("" while it reloads)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    try:
        return str(element(browser, By.ID, "status").text)
    except StaleElementReferenceException:
        return ""
    except WebDriverException as error:  # chromedriver's word for the same: the page was replaced mid-read
        if "does not belong to the document" not in str(error):
            raise
        return ""


def _log_in(browser: Any, server: Server, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server.url + "/")
    assert browser.current_url.endswith("/login")
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.ID, "login").click()
    until(lambda: browser.current_url.rstrip("/") == server.url)


def test_an_operator_drives_the_invoice_from_the_browser(served: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    server = served["server"]
    _log_in(browser, server, served["tokens"]["operator"])
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    assert {row.text.split()[0] for row in rows} == {"inv", "order"}
    browser.save_screenshot(str(ARTEFACTS / "runs.png"))
    browser.get(server.url + "/runs/order")
    element(browser, By.ID, "field-quantity").send_keys("a dozen")  # not a whole number
    browser.find_element(By.ID, "send").click()
    assert "is not a whole number" in element(browser, By.ID, "error").text
    assert browser.find_element(By.ID, "status").text == "waiting"  # the run unchanged
    browser.get(server.url + "/runs/inv")
    element(browser, By.CSS_SELECTOR, ".diagram svg")  # the run's diagram
    assert "waits (approved: bool, note: str | None) within 48h" in element(browser, By.ID, "spec-lines").text
    browser.save_screenshot(str(ARTEFACTS / "run-waiting.png"))
    Select(element(browser, By.ID, "field-approved")).select_by_visible_text("yes")
    browser.find_element(By.ID, "field-note").send_keys("checked against the order")
    browser.find_element(By.ID, "send").click()
    until(lambda: shown_status(browser) == "sleeping")  # Pay sleeps a day
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "wait 1 by operator-person" in page and "Pay" in page
    browser.save_screenshot(str(ARTEFACTS / "run-sleeping.png"))
    served["clock"].set(time.time() + 86400 + 5)  # a day later, the worker wakes it: it is paid
    until(lambda: shown_status(browser) == "success")  # the page follows the run by itself
    assert element(browser, By.ID, "output").text == '"paid INV-1"'
    browser.save_screenshot(str(ARTEFACTS / "run-done.png"))
    browser.get(server.url + "/runs/order")
    element(browser, By.ID, "cancel").click()
    browser.switch_to.alert.accept()  # the confirmation
    until(lambda: shown_status(browser) == "cancelled")
    assert run(server, served["tokens"]["viewer"], "order")["status"] == "cancelled"
    browser.get(server.url + "/runs/inv")  # a fork of the paid invoice, from after `Submit`, with an edited state
    element(browser, By.CSS_SELECTOR, "#fork-form summary").click()
    for field, value in (("fork-step", "1"), ("fork-state", '{"reminders": 0, "trail": ["forked by hand"]}')):
        element(browser, By.ID, field).clear()
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "fork").click()
    browser.switch_to.alert.accept()
    until(lambda: browser.current_url.endswith("/runs/inv.fork-1"))
    until(lambda: shown_status(browser) == "waiting")
    assert "forked by hand" in element(browser, By.ID, "state").get_attribute("textContent")
    browser.save_screenshot(str(ARTEFACTS / "run-forked.png"))


def test_a_viewer_sees_runs_but_cannot_change_them(served: dict[str, Any], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    server = served["server"]
    _log_in(browser, server, served["tokens"]["viewer"])
    browser.get(server.url + "/runs/order")
    element(browser, By.ID, "status")
    assert browser.find_elements(By.ID, "send") == [] and browser.find_elements(By.ID, "cancel") == []
    assert "viewer" in browser.find_element(By.TAG_NAME, "header").text
    response = browser.execute_script(  # a forged post from the page itself is refused by the server too
        "return fetch('/api/runs/order/cancel', {method: 'POST'}).then(r => r.status)"
    )
    assert response == 401  # the API takes bearer tokens only for changes: a cookie cannot cancel
    assert (
        json.loads(browser.execute_script("return fetch('/api/runs/order').then(r => r.text())"))["status"] == "waiting"
    )
