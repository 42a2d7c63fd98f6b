"""What every page carries: one-tap language buttons that keep the page, icons, the theme."""

from __future__ import annotations

import re

from tests.conftest import csrf_token


def test_each_language_is_one_button_that_keeps_the_page(client, berlin):
    page = client.get("/signup?x=1", headers={"Accept-Language": "en"}).text
    buttons = re.findall(r'<button type="submit" name="language" value="(\w+)"[^>]*>', page)
    assert buttons == ["de", "pl", "en"]
    assert 'value="en" lang="en" aria-pressed="true"' in page
    assert "<select" not in page.split("<main")[0], "no dropdown and submit in the header"

    answer = client.post(
        "/language",
        data={"language": "pl", "next": "/signup?x=1", "csrf_token": csrf_token(client, "/signup")},
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/signup?x=1"
    polish = client.get("/signup?x=1").text
    assert '<html lang="pl">' in polish and 'value="pl" lang="pl" aria-pressed="true"' in polish


def test_the_icons_are_there_and_favicon_ico_is_no_404(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.data[:4] == b"\0\0\1\0"  # an ICO file
    page = client.get("/login").text
    for href in re.findall(r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"', page):
        assert client.get(href).status_code == 200, href
    assert '<meta name="theme-color"' in page
