"""A poster printed by Chromium: one page of the paper size its stylesheet sets.

What the print dialog's "Save as PDF" makes, through Playwright's page.pdf()
with the page's own paper size. Skipped without Chromium, unless
HOTLINE_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import re

import pytest

from tests import browser as browsers

pytestmark = pytest.mark.browser

# PDF points (1/72 inch) of the paper sizes, as (width, height).
A4 = (595.28, 841.89)
A6 = (297.64, 419.53)


@pytest.fixture(scope="module")
def chromium():
    with browsers.chromium() as browser:
        yield browser


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """Each page's (width, height) in points, from the PDF's page objects."""
    pages = re.findall(rb"/Type\s*/Page[^s].*?/MediaBox\s*\[\s*([0-9. ]+)\]", pdf, re.S)
    sizes = []
    for box in pages:
        x0, y0, x1, y1 = (float(n) for n in box.split())
        sizes.append((x1 - x0, y1 - y0))
    return sizes


@pytest.mark.parametrize(("size", "paper"), [("a4", A4), ("a6", A6)])
def test_a_poster_prints_on_one_page_of_its_paper_size(
    chromium, another_app, operator, tmp_path, size, paper
):
    app = another_app(public_phone_number="+493023125388")
    with browsers.serving(app) as url:
        context = chromium.new_context(base_url=url, locale="en-GB")
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("E-mail").fill("olga@example.org")
        page.get_by_label("Password").fill("night shift lantern")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/operator/")
        page.goto(f"/posters/mitte/de/{size}")
        assert page.locator(".poster-number").inner_text() == "030 23125388"
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        context.close()
    (tmp_path / f"poster-{size}.pdf").write_bytes(pdf)
    pages = pdf_pages(pdf)
    assert len(pages) == 1, f"{len(pages)} pages"
    width, height = pages[0]
    assert abs(width - paper[0]) < 2 and abs(height - paper[1]) < 2, pages[0]
