"""Every page a volunteer or an operator can reach, in a real browser, checked by axe-core.

At a phone's width (390 x 844, light and dark) and a desk's (1280 x 900): no serious or
critical WCAG 2.1 A/AA violation, no sideways scrolling on the phone, no table narrower
than its content on the desk, nothing the Content-Security-Policy had to block, and no
request for a file that is not there (a favicon, say).

axe-core comes from npm (package.json, installed by `make test`). Without it, or without
Chromium, the test is skipped, unless HOTLINE_REQUIRE_BROWSER=1 (CI): then it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.accounts.users import create_user
from app.models import Role
from tests import browser as browsers
from tests.conftest import TEST_PASSWORD_HASH_COST
from tests.demo import PASSWORD, seed_demo

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
LOOKS = [("phone", PHONE, "light"), ("phone-dark", PHONE, "dark"), ("desk", DESK, "light")]

# Kept by the page as it loads: what the CSP refused (an inline style, a foreign script).
WATCH_CSP = """
window.__blocked = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__blocked.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""

RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + ": " + v.help + " at " + v.nodes.map((n) => n.target.join(" ")).join(", "));
}"""

# Elements wider than the window make the page scroll sideways.
SIDEWAYS = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) return [];
  return [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > width + 1)
    .slice(0, 5)
    .map((e) => e.tagName + "." + e.className);
}"""

# A table (or a cell) whose content does not fit it: squeezed, or scrolling in its box.
SQUEEZED_TABLES = """() => {
  const bad = [];
  for (const wrap of document.querySelectorAll(".table-wrap")) {
    const text = wrap.innerText.slice(0, 40);
    if (wrap.scrollWidth > wrap.clientWidth + 1) bad.push("scrolls: " + text);
  }
  for (const cell of document.querySelectorAll("table th, table td")) {
    if (cell.scrollWidth > cell.clientWidth + 1) bad.push("cell: " + cell.innerText.slice(0, 40));
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def chromium():
    if not AXE.exists():
        browsers.browser_unavailable(f"axe-core is not installed at {AXE} (run `npm ci`)")
    with browsers.chromium() as browser:
        yield browser


# The demo's operator runs a helpline; the Operators page is an administrator's.
ADMIN = "ada.admin@example.org"


@pytest.fixture
def demo(app, berlin):
    scene = seed_demo(berlin, hash_cost=TEST_PASSWORD_HASH_COST)
    create_user(
        berlin,
        name="Ada Admin",
        email=ADMIN,
        password=PASSWORD,
        hash_cost=TEST_PASSWORD_HASH_COST,
        role=Role.ADMIN,
        approved=True,
    )
    berlin.commit()
    return scene


@pytest.fixture
def live_server(app):
    with browsers.serving(app) as url:
        yield url


def pages_of(demo) -> dict[str, list[str]]:
    """Who sees which pages: every GET page of the board and of the operators."""
    claimed, waiting = demo.claimed.reference, demo.open.reference
    return {
        "": ["/", "/login", "/signup", "/no-such-page"],
        demo.volunteer.email: [
            "/requests",
            "/requests?zone=mitte&type=chat",
            "/my-requests",
            f"/requests/{claimed}",
            f"/requests/{waiting}",
            "/account",
            "/operator/",  # 403: not for volunteers
        ],
        demo.pending.email: ["/account"],
        demo.operator.email: [
            "/operator/",
            "/operator/volunteers",
            "/operator/volunteers?status=approved",
            "/operator/attention",
            "/operator/audit",
            "/operator/export",
            "/phone",
            "/phone/ringing?number=%2B493023125417",  # the page without JavaScript
            "/requests",
        ],
        ADMIN: ["/operator/operators"],
    }


def sign_in(page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def check(page, where: str, look: str) -> list[str]:
    """What is wrong with the page as shown now, each problem named with where it is."""
    problems = [f"{where} [{look}] {p}" for p in page.evaluate(RUN_AXE)]
    problems += [f"{where} [{look}] CSP blocked {b}" for b in page.evaluate("window.__blocked")]
    if look.startswith("phone"):
        problems += [f"{where} [{look}] scrolls sideways: {e}" for e in page.evaluate(SIDEWAYS)]
    else:
        problems += [f"{where} [{look}] {t}" for t in page.evaluate(SQUEEZED_TABLES)]
    return problems


@pytest.mark.parametrize(("look", "viewport", "scheme"), LOOKS, ids=[x[0] for x in LOOKS])
def test_every_page_is_accessible_and_fits(chromium, live_server, demo, look, viewport, scheme):
    problems, missing = [], []
    for email, paths in pages_of(demo).items():
        context = chromium.new_context(
            base_url=live_server, locale="en-GB", viewport=viewport, color_scheme=scheme
        )
        context.add_init_script(path=str(AXE))
        context.add_init_script(WATCH_CSP)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "response",
            lambda r: r.status == 404 and "/no-such-page" not in r.url and missing.append(r.url),
        )
        if email:
            sign_in(page, email)
        for path in paths:
            page.goto(path)
            problems += check(page, f"{email or 'visitor'} {path}", look)
        if email == demo.volunteer.email:
            # The steps a form leads to: "Done" asks first, and a sign-up with errors.
            page.goto(f"/requests/{demo.claimed.reference}")
            page.get_by_role("button", name="Done: the person was helped").click()
            page.get_by_role("heading", name="Mark as done?").wait_for()
            problems += check(page, "confirm done", look)
        if email == ADMIN:
            # The helplines form refused: every line unticked.
            operator = page.get_by_role("group", name=f"Helplines {demo.operator.name} runs")
            for box in operator.get_by_role("checkbox").all():
                box.uncheck()
            page.locator(f"#operator-{demo.operator.id}").get_by_role("button", name="Save").click()
            page.locator("#form-errors").wait_for()
            problems += check(page, "operators with an error", look)
        if not email:
            page.goto("/signup")
            page.get_by_role("button", name="Sign up").click()
            page.locator("#form-errors").wait_for()
            problems += check(page, "sign-up with errors", look)
        context.close()
    assert problems == [], "\n".join(problems)
    assert missing == [], "requests for files that are not there"
