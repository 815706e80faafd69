"""Browser tests: Debian's Chromium driven by Playwright against Django's live server."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (make test installs it)")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_FLAGS,
        "headless": True,
    }


PASSWORD = "correct-horse-battery"


def authenticator(user):
    """The user's authenticator app: a confirmed TOTP device with a known key (as if set up at
    an earlier login), so a test types the current code as a clinician would."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name="test authenticator", defaults={"confirmed": True}
    )
    return device


def current_code(device) -> str:
    from django_otp.oath import TOTP

    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


@pytest.fixture
def log_in(page, live_server):
    """Log in through the login page; clinicians and clinic admins then type their code
    (clinic/twofactor.py)."""
    from clinic.twofactor import needs_second_factor

    def log_in_as(user, on=None, check=None):
        """Log in on `page`, or on another page `on` (a second user's own browser); `check`,
        if given, is called on the login page and on the code page (e.g. `look`)."""
        browser_page = on or page
        device = authenticator(user) if needs_second_factor(user) else None
        browser_page.goto(f"{live_server.url}/login/")
        if check:
            check(browser_page)
        browser_page.get_by_label("Username").fill(user.username)
        browser_page.get_by_label("Password").fill(PASSWORD)
        browser_page.get_by_role("button", name="Log in").click()
        browser_page.wait_for_load_state()
        if device is not None:
            if check:
                check(browser_page)
            browser_page.get_by_label("Code").fill(current_code(device))
            browser_page.get_by_role("button", name="Verify").click()
            browser_page.wait_for_load_state()
        return browser_page

    return log_in_as


# Screenshots for docs/screenshots/, written only with SCREENSHOTS=1 (`make screenshots`), so
# `make test` leaves the committed images alone.
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
# axe-core impacts that fail a page (the others are reported by axe but not enforced here).
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": VIEWPORT, "locale": "en-US"}


def axe_problems(page) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now, a line each and
    a line per element (the first five)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    lines = []
    for violation in results.response["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        lines.append(f"{violation['impact']}: {violation['id']} ({violation['help']})")
        for node in violation["nodes"][:5]:
            target = " ".join(map(str, node["target"]))
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"  at {target}: {summary}")
    return lines


@pytest.fixture
def look():
    """look(page, "today"): the page passes axe-core (no serious or critical violation); with
    SCREENSHOTS=1 a full-page screenshot goes to docs/screenshots/today.png."""

    def check(page, screenshot: str | None = None):
        page.wait_for_load_state()
        problems = axe_problems(page)
        assert not problems, f"{page.url}:\n" + "\n".join(problems)
        if screenshot and os.environ.get("SCREENSHOTS") == "1":
            SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=SCREENSHOT_DIR / f"{screenshot}.png", full_page=True)
        return page

    return check
