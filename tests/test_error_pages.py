"""When a page cannot be shown, people read why in their own language, never Werkzeug's English."""

import pytest


@pytest.mark.parametrize(
    ("language", "text"),
    [("de", "Nicht gefunden"), ("pl", "Nie znaleziono"), ("en", "Not found")],
)
def test_an_unknown_address_is_explained_in_the_readers_language(client, language, text):
    response = client.get("/no/such/page", headers={"Accept-Language": language})
    assert response.status_code == 404
    assert text in response.text
    assert f'lang="{language}"' in response.text


def test_a_volunteer_on_an_operator_page_reads_a_translated_refusal(client, signed_in):
    response = client.get("/operator/", headers={"Accept-Language": "de"})
    assert response.status_code == 403
    assert "Forbidden" not in response.text
    assert 'lang="de"' in response.text


def test_a_wrong_method_and_an_oversized_post_are_explained(client):
    assert "Method Not Allowed" not in client.delete("/login").text
    response = client.post("/login", data={"x": "a" * 100_000})
    assert response.status_code == 413
    assert "Request Entity Too Large" not in response.text


def test_an_unexpected_error_is_a_translated_page_not_a_stack_trace(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom-for-test")
    def boom():
        raise RuntimeError("boom")

    response = client.get("/boom-for-test", headers={"Accept-Language": "pl"})
    assert response.status_code == 500
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    assert "Coś poszło nie tak" in response.text
    assert 'lang="pl"' in response.text


def test_a_malformed_request_is_explained_too(app, client):
    from flask import abort

    @app.get("/bad-for-test")
    def bad():
        abort(400)

    response = client.get("/bad-for-test", headers={"Accept-Language": "de"})
    assert response.status_code == 400
    assert "Das Gesendete war nicht verständlich" in response.text
    assert "Bad Request" not in response.text
