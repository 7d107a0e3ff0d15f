"""Unsubscribe links: signed tokens with key rotation, key sources, and the RFC 8058 web app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import stat

import pytest
from fastapi.testclient import TestClient

from journeyflow import unsubscribe
from journeyflow.unsubscribe import (
    Claim,
    UnsubscribeKeyError,
    create_app,
    load_keys,
    make_token,
    parse_keys,
    unsubscribe_url,
    verify_token,
)
from journeyflow.unsubscribe import app as unsubscribe_app

NEW_SECRET = "n" * 20 + "-new-secret"
OLD_SECRET = "o" * 20 + "-old-secret"
KEYS = parse_keys(f"new:{NEW_SECRET},old:{OLD_SECRET}")
OLD_ONLY = parse_keys(f"old:{OLD_SECRET}")
NEW_ONLY = parse_keys(f"new:{NEW_SECRET}")
ONE_CLICK = {"content-type": "application/x-www-form-urlencoded"}


def flip(char: str) -> str:
    return "B" if char == "A" else "A"


def change(token: str, index: int) -> str:
    return token[:index] + flip(token[index]) + token[index + 1 :]


def suppressions(db) -> list[tuple]:
    with db.transaction() as conn:
        return conn.exec_driver_sql(
            "select contact_id, channel, address, reason, campaign from journeyflow.suppressions"
        ).all()


# --- tokens -------------------------------------------------------------------------------------


def test_round_trip_and_token_shape():
    token = make_token("c-42", "winback", KEYS)
    assert verify_token(token, KEYS) == Claim("c-42", "winback", "email", "new")
    assert "=" not in token and "/" not in token and "+" not in token
    kid, payload, mac = token.split(".")
    assert kid == "new" and len(mac) == 22  # 128-bit MAC
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert json.loads(decoded) == ["email", "winback", "c-42"]


def test_odd_ids_round_trip():
    token = make_token("ä.b:c,d/ e", "camp.aign:1", KEYS)
    assert verify_token(token, KEYS) == Claim("ä.b:c,d/ e", "camp.aign:1", "email", "new")


def test_tampered_tokens_are_rejected():
    token = make_token("c-42", "winback", KEYS)
    kid_end, mac_start = token.index("."), token.rindex(".") + 1
    for index in range(kid_end + 1, mac_start - 1):  # every payload character
        assert verify_token(change(token, index), KEYS) is None, index
    for index in range(mac_start, len(token)):  # every MAC character, the last one included
        assert verify_token(change(token, index), KEYS) is None, index
    forged = make_token("c-43", "winback", parse_keys("new:" + "x" * 32))
    assert verify_token(forged, KEYS) is None  # same kid, other secret
    assert verify_token(token.replace("new.", "old.", 1), KEYS) is None  # kid swapped


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "a.b.c", "new..", "not a token", "%00", "new.\u00e4.x", "x" * 5000, None, 42],
)
def test_garbage_is_none_not_an_exception(garbage):
    assert verify_token(garbage, KEYS) is None


def test_truncated_tokens_are_rejected():
    token = make_token("c-42", "winback", KEYS)
    for cut in (1, 5, 22, 23, len(token) - 1):
        assert verify_token(token[:-cut], KEYS) is None
    assert verify_token(token + "A", KEYS) is None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_payload_with_valid_mac_but_wrong_shape_is_none():
    # the documented format: MAC = HMAC-SHA256 over "jf-unsub-v1.KID.PAYLOAD", first 128 bits
    secret = NEW_SECRET.encode()
    for raw in (b"not json", b'{"a": 1}', b'["email", "x"]', b'["email", "", "c"]', b"\xff"):
        payload = _b64(raw)
        mac = hmac.new(secret, f"jf-unsub-v1.new.{payload}".encode(), hashlib.sha256).digest()
        token = f"new.{payload}.{_b64(mac[:16])}"
        assert verify_token(token, KEYS) is None


def test_wrong_key_is_rejected():
    token = make_token("c-42", "winback", parse_keys("other:" + "s" * 32))
    assert verify_token(token, KEYS) is None


def test_rotation_old_key_verifies_until_removed_and_first_key_signs():
    old_token = make_token("c-1", "welcome", OLD_ONLY)
    assert verify_token(old_token, KEYS) == Claim("c-1", "welcome", "email", "old")
    assert verify_token(old_token, NEW_ONLY) is None  # "old" removed
    new_token = make_token("c-1", "welcome", KEYS)
    assert new_token.startswith("new.")
    assert verify_token(new_token, NEW_ONLY) is not None
    assert verify_token(new_token, OLD_ONLY) is None


def test_make_token_rejects_empty_or_huge_ids():
    with pytest.raises(ValueError):
        make_token("", "winback", KEYS)
    with pytest.raises(ValueError):
        make_token("c-1", "", KEYS)
    with pytest.raises(ValueError, match="too long"):
        make_token("c" * 2000, "winback", KEYS)


def test_unsubscribe_url_joins_robustly():
    token = make_token("c-42", "winback", KEYS)
    expected = f"https://shop.example/journeyflow/u/{token}"
    assert unsubscribe_url("https://shop.example/journeyflow/u/", token) == expected
    assert unsubscribe_url("https://shop.example/journeyflow/u", token) == expected
    assert unsubscribe_url(" https://shop.example/journeyflow/u// ", token) == expected
    assert unsubscribe_url("https://shop.example", token) == f"https://shop.example/{token}"
    assert (
        unsubscribe_url("https://shop.example/u/?src=mail", token)
        == f"https://shop.example/u/{token}?src=mail"
    )
    for bad_base in ("shop.example/u/", "ftp://shop.example/u/", "https://shop.example/u#x"):
        with pytest.raises(ValueError):
            unsubscribe_url(bad_base, token)
    with pytest.raises(ValueError):
        unsubscribe_url("https://shop.example/u/", "a/b?c")


# --- keys ---------------------------------------------------------------------------------------


@pytest.fixture
def key_env(monkeypatch, tmp_path):
    """No connection, no env keys, a fresh $JOURNEYFLOW_HOME for the local key file."""
    monkeypatch.delenv("AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE", raising=False)
    monkeypatch.delenv(unsubscribe.ENV_VAR, raising=False)
    monkeypatch.setenv("JOURNEYFLOW_HOME", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("justasecretwithoutkid", "no ':'"),
        ("k1:short", "shorter than 16"),
        ("k 1:" + "s" * 20, "invalid kid"),
        (":" + "s" * 20, "invalid kid"),
        (f"a:{'s' * 20},a:{'t' * 20}", "appears twice"),
        (f"a:{'s' * 20},,b:{'t' * 20}", "entry 2 is empty"),
        (",", "empty"),
    ],
)
def test_malformed_key_strings_give_a_clear_error(text, problem):
    with pytest.raises(UnsubscribeKeyError) as err:
        parse_keys(text, "environment variable JOURNEYFLOW_UNSUBSCRIBE_KEYS")
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert problem in message
    assert "JOURNEYFLOW_UNSUBSCRIBE_KEYS" in message and "kid1:secret1,kid0:secret0" in message
    for secret in ("justasecretwithoutkid", "s" * 20, "t" * 20):
        assert secret not in message


def test_parse_keys_tolerates_spaces_and_a_trailing_comma():
    keys = parse_keys(f" new : {NEW_SECRET} , old:{OLD_SECRET}, ")
    assert keys.kids == ("new", "old") and keys.signing_kid == "new"
    assert keys.secret("old") == OLD_SECRET.encode() and keys.secret("gone") is None
    assert NEW_SECRET not in repr(keys) and OLD_SECRET not in repr(keys)


def test_local_key_file_is_created_once_private_and_reused(key_env, caplog):
    caplog.set_level(logging.DEBUG, logger="journeyflow")
    keys = load_keys()
    path = key_env / "unsubscribe.key"
    assert unsubscribe.key_file() == path
    assert keys.kids == ("local",) and keys.source == f"key file {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip().split(":", 1)[1]
    assert len(base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))) == 32
    assert load_keys() == keys  # reused, not regenerated
    assert verify_token(make_token("c-1", "welcome"), keys) is not None
    assert secret not in caplog.text
    assert [p.name for p in key_env.iterdir()] == ["unsubscribe.key"]  # no temp file left


def test_env_var_wins_over_local_key_file(key_env, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger="journeyflow")
    load_keys()  # creates the local file
    monkeypatch.setenv(unsubscribe.ENV_VAR, f"new:{NEW_SECRET},old:{OLD_SECRET}")
    keys = load_keys()
    assert keys.kids == ("new", "old")
    assert keys.source == "environment variable JOURNEYFLOW_UNSUBSCRIBE_KEYS"
    assert make_token("c-1", "welcome").startswith("new.")
    assert NEW_SECRET not in caplog.text and OLD_SECRET not in caplog.text


def test_env_var_alone_creates_no_key_file(key_env, monkeypatch):
    monkeypatch.setenv(unsubscribe.ENV_VAR, f"new:{NEW_SECRET}")
    assert load_keys().kids == ("new",)
    assert not (key_env / "unsubscribe.key").exists()


def test_malformed_env_var_raises_naming_it(key_env, monkeypatch):
    monkeypatch.setenv(unsubscribe.ENV_VAR, "oops")
    with pytest.raises(UnsubscribeKeyError, match="environment variable JOURNEYFLOW_UNSUBSCRIBE"):
        load_keys()


def test_connection_wins_over_env_var(key_env, monkeypatch):
    monkeypatch.setenv(unsubscribe.ENV_VAR, f"env:{OLD_SECRET}")
    monkeypatch.setenv(
        "AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE",
        json.dumps({"conn_type": "generic", "password": f"k1:{NEW_SECRET},k0:{OLD_SECRET}"}),
    )
    keys = load_keys()
    assert keys.kids == ("k1", "k0")
    assert "journeyflow_unsubscribe" in keys.source


def test_connection_without_password_raises_naming_it(key_env, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_JOURNEYFLOW_UNSUBSCRIBE", json.dumps({"conn_type": "generic"}))
    with pytest.raises(UnsubscribeKeyError, match="connection 'journeyflow_unsubscribe'"):
        load_keys()


# --- web app ------------------------------------------------------------------------------------


@pytest.fixture
def client():
    with TestClient(create_app(KEYS)) as test_client:
        yield test_client


def assert_safe_headers(response):
    assert response.headers["cache-control"] == "no-store"
    assert "noindex" in response.headers["x-robots-tag"]
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "form-action 'self'" in csp
    assert "unsafe-inline" not in csp


def test_get_shows_a_confirmation_form_and_records_nothing(db, client):
    token = make_token("c-42", "winback", KEYS)
    response = client.get(f"/u/{token}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in response.text
    assert "Abmelden" in response.text and "Unsubscribe" in response.text
    assert "c-42" not in response.text and "winback" not in response.text
    assert_safe_headers(response)
    head = client.head(f"/u/{token}")
    assert head.status_code == 200 and head.content == b""
    assert_safe_headers(head)
    assert suppressions(db) == []


def test_get_invalid_token_is_400(db, client):
    response = client.get("/u/not-a-token")
    assert response.status_code == 400
    assert "ungültig" in response.text and "invalid" in response.text
    assert_safe_headers(response)
    assert suppressions(db) == []


def test_one_click_post_unsubscribes_once(db, client):
    token = make_token("c-42", "winback", KEYS)
    first = client.post(f"/u/{token}", content="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert first.status_code == 200
    assert "Sie wurden abgemeldet" in first.text and "You have been unsubscribed" in first.text
    assert_safe_headers(first)
    assert suppressions(db) == [("c-42", "email", "", "unsubscribe_link", "winback")]
    second = client.post(f"/u/{token}", content="List-Unsubscribe=One-Click", headers=ONE_CLICK)
    assert second.status_code == 200
    assert len(suppressions(db)) == 1


def test_form_and_multipart_posts_unsubscribe(db, client):
    form_token = make_token("c-1", "welcome", KEYS)
    assert client.post(f"/u/{form_token}", data={"List-Unsubscribe": "One-Click"}).is_success
    multi_token = make_token("c-2", "welcome", KEYS)
    response = client.post(f"/u/{multi_token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200
    assert sorted(row[0] for row in suppressions(db)) == ["c-1", "c-2"]


def test_old_key_token_still_unsubscribes_during_rotation(db, client):
    token = make_token("c-7", "welcome", OLD_ONLY)
    assert client.post(f"/u/{token}", content="List-Unsubscribe=One-Click").status_code == 200
    assert [row[0] for row in suppressions(db)] == ["c-7"]


def test_tampered_or_wrong_key_post_is_400_and_records_nothing(db, client):
    token = make_token("c-42", "winback", KEYS)
    payload_at = token.index(".") + 3
    wrong_key = make_token("c-42", "winback", parse_keys("other:" + "s" * 32))
    removed_key = make_token("c-42", "winback", parse_keys("gone:" + "g" * 32))
    for bad in (change(token, payload_at), change(token, len(token) - 1), wrong_key, removed_key):
        response = client.post(f"/u/{bad}", content="List-Unsubscribe=One-Click", headers=ONE_CLICK)
        assert response.status_code == 400, bad
        assert_safe_headers(response)
    assert suppressions(db) == []


def test_oversized_body_is_413_and_records_nothing(db, client):
    token = make_token("c-42", "winback", KEYS)
    big = "List-Unsubscribe=One-Click&x=" + "a" * unsubscribe.MAX_BODY_BYTES
    response = client.post(f"/u/{token}", content=big, headers=ONE_CLICK)
    assert response.status_code == 413
    chunked = client.post(f"/u/{token}", content=iter([big.encode()]), headers=ONE_CLICK)
    assert chunked.status_code == 413
    assert suppressions(db) == []


def test_other_methods_and_paths(client):
    token = make_token("c-42", "winback", KEYS)
    response = client.put(f"/u/{token}")
    assert response.status_code == 405
    assert_safe_headers(response)
    assert client.get("/u/").status_code == 404
    assert client.get("/docs").status_code == 404
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_create_app_loads_nothing_until_a_request(key_env, monkeypatch):
    def boom():
        raise AssertionError("keys loaded at creation")

    monkeypatch.setattr(unsubscribe_app, "load_keys", boom)
    app = create_app()
    with TestClient(app) as test_client:
        assert test_client.get("/healthz").json() == {"status": "ok"}


def test_app_with_broken_keys_answers_503(key_env, monkeypatch):
    monkeypatch.setenv(unsubscribe.ENV_VAR, "broken")
    with TestClient(create_app()) as test_client:
        response = test_client.post("/u/new.abcd." + "A" * 22)
    assert response.status_code == 503
    assert_safe_headers(response)


def test_app_loads_keys_from_the_configured_source(db, key_env, monkeypatch):
    monkeypatch.setenv(unsubscribe.ENV_VAR, f"new:{NEW_SECRET}")
    token = make_token("c-9", "welcome")
    with TestClient(create_app()) as test_client:
        assert test_client.post(f"/u/{token}", content="List-Unsubscribe=One-Click").is_success
    assert [row[0] for row in suppressions(db)] == ["c-9"]


def test_suppress_reports_whether_the_row_is_new(db):
    assert unsubscribe.suppress("c-1", "welcome") is True
    assert unsubscribe.suppress("c-1", "winback") is False
    assert unsubscribe.suppress("c-1", "welcome", channel="postal") is True
    assert sorted(suppressions(db)) == [
        ("c-1", "email", "", "unsubscribe_link", "welcome"),
        ("c-1", "postal", "", "unsubscribe_link", "welcome"),
    ]
