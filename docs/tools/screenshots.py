"""The README's gallery: the demo helpline photographed at a phone's and a desk's width.

`make screenshots` runs this. It makes a throw-away SQLite database with Berlin's
zones and the demo scene of the accessibility tests (tests/demo.py), serves the app
on a free local port, signs in as a volunteer and as an operator in headless
Chromium (/usr/bin/chromium, as the browser tests use it) and writes JPEGs to
docs/screenshots/: <page>-phone.jpg (390 px wide) and <page>-desk.jpg (1280 px).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app import create_app, migrations_runner  # noqa: E402
from app.database import get_db  # noqa: E402
from app.zones.profiles import import_profile, profile_path, read_profile  # noqa: E402
from tests.browser import chromium, serving  # noqa: E402
from tests.demo import PASSWORD, seed_demo  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
WIDTHS = {"phone": {"width": 390, "height": 844}, "desk": {"width": 1280, "height": 900}}
HASH_COST = 7  # a demo: signing in fast matters more than a strong hash
# (name, who signs in, address, whole page or the first screen)
SHOTS = [
    ("board", "ada@example.org", "/requests", False),
    ("call-back", "ada@example.org", "/requests/{claimed}", False),
    ("my-requests", "ada@example.org", "/my-requests", False),
    ("dashboard", "olga@example.org", "/operator/", True),
    ("volunteers", "olga@example.org", "/operator/volunteers", False),
    ("audit-log", "olga@example.org", "/operator/audit", False),
]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        migrations_runner.upgrade(url)
        app = create_app(
            {
                "database_url": url,
                "secret_key": "screenshots",
                "password_hash_cost": HASH_COST,
                "twilio": {"auth_token": "screenshots", "account_sid": "AC" + "0" * 32},
            },
            instance_path=f"{tmp}/instance",
        )
        with app.app_context(), get_db(app).session() as session:
            import_profile(session, read_profile(profile_path("berlin")))
            session.commit()
            demo = seed_demo(session, hash_cost=HASH_COST)
            claimed = demo.claimed.reference
        with serving(app) as base, chromium() as browser:
            for look, viewport in WIDTHS.items():
                signed_in = {}
                for name, email, path, full in SHOTS:
                    if email not in signed_in:
                        context = browser.new_context(
                            base_url=base, locale="en-GB", viewport=viewport
                        )
                        page = context.new_page()
                        page.goto("/login")
                        page.get_by_label("E-mail").fill(email)
                        page.get_by_label("Password").fill(PASSWORD)
                        page.get_by_role("button", name="Sign in").click()
                        page.wait_for_url(lambda u: "/login" not in u)
                        signed_in[email] = page
                    page = signed_in[email]
                    page.goto(path.format(claimed=claimed))
                    target = OUT / f"{name}-{look}.jpg"
                    page.screenshot(path=str(target), type="jpeg", quality=45, full_page=full)
                    print(f"{target.relative_to(ROOT)}: {target.stat().st_size // 1024} KB")
                for page in signed_in.values():
                    page.context.close()


if __name__ == "__main__":
    main()
