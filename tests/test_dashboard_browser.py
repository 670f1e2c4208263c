"""`goap ui` in headless Chromium: the page follows a real run without a reload.

The page is opened with the token in the URL's fragment, as `goap ui` prints it; the Run
button starts `goap run`, and the steps change state on the page as the run goes (server-sent
events), the action graph and the timeline with them. Skips, saying why, without Chromium or
Playwright (see conftest_web.need_browser).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest_dashboard import start_server, stop_server, write_catalog
from conftest_web import ARTIFACTS, CHROMIUM, need_browser

pytestmark = pytest.mark.slow  # a browser and a run of a few seconds


@pytest.fixture
def browser_page():
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            yield page
        finally:
            browser.close()


def test_the_page_follows_a_run_without_reloading(tmp_path: Path, browser_page):
    work = tmp_path / "work"
    work.mkdir()
    server = start_server(tmp_path, write_catalog(tmp_path, sleep=0.6), work)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(server.page)
        page.wait_for_selector("#live:text('live')", timeout=20_000)
        assert "token" not in page.url  # taken from the fragment, then dropped from the URL
        assert page.text_content("#status") == "pending"
        assert page.text_content("#token-state") == "token set: writes allowed"
        # before any run: the optimal plan's steps, and the plan drawn on the graph
        steps = page.locator("#steps li.step")
        assert steps.evaluate_all("els => els.map(e => e.dataset.action)") == [
            "fetch",
            "build",
            "check",
            "ship",
        ]
        page.wait_for_selector("#graph svg g.node.plan[data-action='ship']")
        assert page.locator("#graph svg g.node.plan").count() == 4
        page.evaluate("window.__sameDocument = true")

        page.click("#run")
        page.wait_for_selector(
            "#steps li[data-action='build'][data-state='running']", timeout=30_000
        )
        # live: its progress record and its timer, and the graph shows it running
        page.wait_for_selector(
            "#steps li[data-action='build'] .progress:has-text('building')", timeout=10_000
        )
        page.wait_for_selector("#graph svg g.node.running[data-action='build']", timeout=10_000)
        page.wait_for_selector("#status:text('completed')", timeout=30_000)
        page.wait_for_selector("#steps li[data-action='ship'][data-state='done']")
        done = page.locator("#steps li.step[data-state='done']").count()
        assert done == 4
        assert page.evaluate("window.__sameDocument") is True  # never reloaded
        page.wait_for_selector("#graph svg g.node.done[data-action='ship']")
        assert page.locator("#timeline .bar[data-outcome='succeeded']").count() == 4
        assert page.locator("#world tr[data-var='shipped'] td.value").text_content() == "true"
        # a bar opens its attempt: the log's tail
        page.click("#timeline .lane[data-action='build'] .bar")
        page.wait_for_selector("#detail pre.log:has-text('building 3')")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert errors == []
    finally:
        stop_server(server)


def test_without_the_token_the_page_reads_but_cannot_run(tmp_path: Path, browser_page):
    work = tmp_path / "work"
    work.mkdir()
    server = start_server(tmp_path, write_catalog(tmp_path), work)
    page = browser_page
    try:
        page.goto(server.url)
        page.wait_for_selector("#live:text('live')", timeout=20_000)
        assert page.text_content("#token-state") == "no token: read-only"
        page.click("#run")
        page.wait_for_selector("#message.error:has-text('token')")
        assert page.text_content("#status") == "pending"
        page.fill("#token", "wrong")
        page.click("#token-form button")
        page.wait_for_selector("#message.error:has-text('token')")
        page.fill("#token", server.token)
        page.click("#token-form button")
        page.wait_for_selector("#message:text('token accepted')")
        assert page.text_content("#token-state") == "token set: writes allowed"
    finally:
        stop_server(server)


def test_approve_from_the_page_and_the_run_continues(tmp_path: Path, browser_page):
    work = tmp_path / "work"
    work.mkdir()
    catalog = write_catalog(tmp_path, sleep=0.2)
    text = catalog.read_text().replace(
        '    cmd: ["sh", "-c", "sleep 0.2; echo shipped"]',
        '    cmd: ["sh", "-c", "sleep 0.2; echo shipped"]\n'
        '    approval: {required: true, reason: "ships to users"}',
    )
    assert "approval" in text
    catalog.write_text(text)
    server = start_server(tmp_path, catalog, work)
    page = browser_page
    try:
        page.goto(server.page)
        page.wait_for_selector("#live:text('live')", timeout=20_000)
        page.click("#run")
        # the run stops before ship: waiting for approval, persisted, shown on the page
        page.wait_for_selector("#status:text('waiting_approval')", timeout=30_000)
        page.wait_for_selector("#approvals li.approval[data-action='ship']", timeout=10_000)
        assert "ships to users" in page.text_content("#approvals")
        assert page.locator("#steps li.step[data-state='done']").count() == 3
        page.click("#approvals li.approval[data-action='ship'] button.approve")
        page.wait_for_selector("#status:text('completed')", timeout=30_000)
        page.wait_for_selector("#steps li[data-action='ship'][data-state='done']")
        assert server.get("/api/snapshot")["status"] == "completed"
    finally:
        stop_server(server)
    state = json.loads((work / "tiny_state.json").read_text())
    (ship,) = [e for e in state["history"] if e["action"] == "ship"]
    assert ship["approval"]["who"] == "goap ui" and ship["outcome"] == "succeeded"
