"""The account page in a real Chromium against the real stack: a new password, then deleting the account."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OLD = "first password 1"
NEW = "second password 2"


def test_account_page_changes_the_password_then_deletes_the_account(
    stack: Any, browser: Any, screenshots: Path, console: Any
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=stack.base_url)
    other = browser.new_context(base_url=stack.base_url)  # another device, for logins through the API
    name = f"acct_{uuid.uuid4().hex[:6]}"
    assert context.request.post("/api/auth/register", data={"username": name, "password": OLD}).status == 201
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(15_000)
    page.goto("/#/home")
    page.get_by_role("link", name=name).click()  # the name in the header leads to the account page
    page.get_by_role("heading", name="Your account", exact=True).wait_for()
    assert page.url.endswith("#/account")
    assert page.locator(".account-stats dd").count() == 4

    # A wrong current password: said on its field, nothing changes.
    page.get_by_label("Current password").fill("not-my-password")
    page.get_by_label("New password").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("This is not your current password.").wait_for()
    assert page.get_by_label("Current password").get_attribute("aria-invalid") == "true"
    page.get_by_label("Current password").fill(OLD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text(re.compile("Password changed")).wait_for()
    assert other.request.post("/api/auth/login", data={"username": name, "password": OLD}).status == 401
    assert other.request.post("/api/auth/login", data={"username": name, "password": NEW}).status == 200
    page.screenshot(path=str(screenshots / "30-account.png"), full_page=True)

    # Deleting needs the box ticked and the password.
    delete = page.get_by_role("button", name="Delete my account")
    assert delete.is_disabled()
    page.locator("#delete-confirm").check()
    assert delete.is_enabled()
    page.get_by_label("Password", exact=True).fill(NEW)
    delete.click()
    page.wait_for_url(re.compile(r"#/home$"))
    page.locator("#account").get_by_role("link", name="Log in").wait_for()
    assert other.request.post("/api/auth/login", data={"username": name, "password": NEW}).status == 401
    # The page is for logged-in users only now.
    page.goto("/#/account")
    page.wait_for_url(re.compile(r"#/login\?next=account$"))
    assert console.unexpected() == []
    other.close()
    context.close()


def test_account_page_imports_a_history_and_makes_a_scrobble_token(
    stack: Any, browser: Any, screenshots: Path, console: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    name = f"hist_{uuid.uuid4().hex[:6]}"
    assert context.request.post("/api/auth/register", data={"username": name, "password": OLD}).status == 201
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(15_000)
    page.goto("/#/account")
    page.get_by_role("heading", name="Bring your listening history").wait_for()

    export = tmp_path / "scrobbles.csv"
    export.write_text(
        "Kings Of Leon,Only By The Night,Revelry,31 Jan 2020 18:22\n"
        "Florence + The Machine,Lungs,Dog Days Are Over (Radio Edit),31 Jan 2020 18:26\n"
        "Nobody At All,Nowhere,No Such Song Anywhere,31 Jan 2020 18:30\n"
    )
    page.locator("#import-file").set_input_files(str(export))
    report = page.locator("#import-report")
    report.wait_for()
    assert "Last.fm export" in report.inner_text()
    values = dict(zip(report.locator("dt").all_inner_texts(), report.locator("dd").all_inner_texts(), strict=True))
    assert values["listens in the file"] == "3" and values["new plays added"] == "2"
    assert values["not found here"] == "1"
    page.wait_for_function("() => document.querySelector('.account-stats dd').textContent === '2'")  # totals
    shot = screenshots / "17-history-import.png"
    page.screenshot(path=str(shot), full_page=True)

    page.locator("#token-create").click()
    secret = page.locator("#token-secret")
    secret.wait_for()
    token = secret.inner_text().strip()
    assert len(token) >= 32
    check = context.request.get("/1/validate-token", headers={"Authorization": f"Token {token}"}).json()
    assert check["valid"] is True and check["user_name"] == name
    page.get_by_role("button", name="Revoke the token player").click()
    page.get_by_text("No tokens yet.").wait_for()
    assert (
        context.request.get("/1/validate-token", headers={"Authorization": f"Token {token}"}).json()["valid"] is False
    )
    assert console.unexpected() == []
    context.close()


def test_account_page_makes_an_app_password_for_subsonic_apps(
    stack: Any, browser: Any, screenshots: Path, console: Any
) -> None:
    import hashlib

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=stack.base_url)
    name = f"app_{uuid.uuid4().hex[:6]}"
    assert context.request.post("/api/auth/register", data={"username": name, "password": OLD}).status == 201
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(15_000)
    page.goto("/#/account")
    page.get_by_role("heading", name="Listen from your phone").wait_for()
    assert page.locator("#app-server-url").inner_text() == stack.base_url.rstrip("/")
    page.locator("#app-password-name").fill("my phone")
    page.locator("#app-password-create").click()
    secret = page.locator("#app-password-secret")
    secret.wait_for()
    password = secret.inner_text().strip()
    assert len(password) == 23
    page.get_by_text("my phone · app password").wait_for()
    page.screenshot(path=str(screenshots / "31-app-password.png"), full_page=True)

    def ping(pw: str) -> dict[str, Any]:
        salt = uuid.uuid4().hex[:8]
        token = hashlib.md5((pw + salt).encode()).hexdigest()
        params = {"u": name, "t": token, "s": salt, "v": "1.16.1", "c": "browser-test", "f": "json"}
        return context.request.get("/rest/ping", params=params).json()["subsonic-response"]  # type: ignore[no-any-return]

    assert ping(password)["status"] == "ok"  # what a Subsonic app sends
    page.get_by_role("button", name="Revoke the app password my phone").click()
    page.get_by_text("No app passwords yet.").wait_for()
    assert page.locator("#app-password-secret").count() == 0  # shown once, gone from the page too
    # (That the revoked password is then refused is tested without a browser: a refused login here would count
    # toward the login limit of this address, which the other browser tests share.)
    assert context.request.get("/api/me/app-credentials").json()["items"] == []
    assert console.unexpected() == []
    context.close()
