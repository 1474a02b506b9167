"""Auth (keys, roles, hashing at rest, sessions) and limits (streamed body size, per-key rate)."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import anyio
import pytest

from avagent.service.security import create_key, parse_key
from avagent.workers.store import database_url
from tests.service.conftest import running_api, service_settings

UPLOAD_LIMIT = 10_000  # bytes: smaller than any clip
CHUNK = 4096


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """An app with a 10 KB upload limit and a read rate of 3 requests at once, then 1 per minute."""
    settings = service_settings(
        tmp_path_factory.mktemp("limited"), max_upload_bytes=UPLOAD_LIMIT, read_burst=3, read_rate_per_minute=1
    )
    with running_api(settings) as a:
        yield a


def test_no_key_is_401_and_a_bad_key_too(api):
    for headers in ({}, {"Authorization": "Bearer avk_nope_AAAAAAAAAAAAAAAAAAAA"}, {"X-API-Key": "garbage"}):
        response = api.client.get("/v1/jobs", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_roles_nest_and_a_wrong_role_is_403(api, clips):
    upload = api.submit(clips["clean"], role="read")
    assert upload.status_code == 403 and "submit" in upload.json()["error"]["message"]
    keys = api.client.get("/v1/keys", headers=api.headers("submit"))
    assert keys.status_code == 403
    assert api.client.get("/v1/keys", headers=api.headers("admin")).status_code == 200
    who = api.client.get("/v1/whoami", headers={"X-API-Key": api.keys["submit"]}).json()
    assert who["role"] == "submit" and who["roles"] == ["read", "submit"]


def test_keys_are_hashed_at_rest(api):
    created = api.client.post("/v1/keys", json={"name": "ci-reader", "role": "read"}, headers=api.headers())
    assert created.status_code == 201
    key = created.json()["key"]
    key_id, secret = parse_key(key)
    db = database_url(api.service.settings).removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, name, role, salt, secret_sha256 FROM api_keys").fetchall()
        dump = "\n".join(conn.iterdump())
    assert secret not in dump and key not in dump  # neither the key nor its secret is stored anywhere
    row = next(r for r in rows if r[0] == key_id)
    assert row[4] == hashlib.sha256(bytes.fromhex(row[3]) + secret.encode()).hexdigest()
    assert len({r[3] for r in rows}) == len(rows)  # one salt per key
    assert api.client.get("/v1/whoami", headers={"X-API-Key": key}).json()["name"] == "ci-reader"


def test_revoked_key_stops_working(api):
    row, key = create_key(api.service.store, "short-lived", "read")
    assert api.client.get("/v1/whoami", headers={"X-API-Key": key}).status_code == 200
    assert api.client.delete(f"/v1/keys/{row.id}", headers=api.headers()).json()["revoked"] is True
    assert api.client.get("/v1/whoami", headers={"X-API-Key": key}).status_code == 401


def test_query_key_only_for_reads_and_session_cookie(api, clips):
    key = api.keys["submit"]
    assert api.client.get("/v1/whoami", params={"api_key": key}).status_code == 200
    files = {"file": ("c.mp4", clips["clean"].read_bytes(), "video/mp4")}
    assert api.client.post("/v1/jobs", params={"api_key": key}, files=files).status_code == 401
    login = api.client.post("/v1/session", json={"key": key})
    assert login.status_code == 200 and "httponly" in login.headers["set-cookie"].lower()
    assert "samesite=strict" in login.headers["set-cookie"].lower()
    assert api.client.get("/v1/whoami").json()["name"] == "test-submit"  # the cookie alone
    api.client.delete("/v1/session")
    api.client.cookies.clear()
    assert api.client.get("/v1/whoami").status_code == 401
    assert api.client.post("/v1/session", json={"key": "avk_x_" + "A" * 30}).status_code == 401


def test_bootstrap_admin_key_from_its_hash(tmp_path):
    secret = "Bootstrap-Secret-For-Tests-0123456789"
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with running_api(service_settings(tmp_path, bootstrap_admin_key_sha256=digest)) as a:
        who = a.client.get("/v1/whoami", headers={"X-API-Key": f"avk_bootstrap_{secret}"}).json()
        assert who["role"] == "admin"
        assert a.client.get("/v1/whoami", headers={"X-API-Key": "avk_bootstrap_wrong-secret-000000"}).status_code == 401


def test_oversize_upload_is_413(limited, clips):
    assert clips["clean"].stat().st_size > UPLOAD_LIMIT
    response = limited.submit(clips["clean"])
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "upload_too_large",
        "message": f"the request body is larger than the {UPLOAD_LIMIT}-byte limit of this route",
    }
    assert limited.client.get("/v1/jobs", headers=limited.headers("admin")).json()["data"] == []


def test_oversize_upload_is_cut_off_while_streaming(limited):
    """No Content-Length, 4 MB offered in 4 KB chunks: the server stops reading just past 10 KB."""
    app, key = limited.client.app, limited.keys["submit"]
    boundary = "testboundary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.mp4"\r\n\r\n'.encode()
    offered = 1000
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        body = head if pulled == 1 else b"\0" * CHUNK
        return {"type": "http.request", "body": body, "more_body": pulled < offered}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/jobs",
        "raw_path": b"/v1/jobs",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", f"multipart/form-data; boundary={boundary}".encode()),
            (b"authorization", f"Bearer {key}".encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 413 and json.loads(body)["error"]["code"] == "upload_too_large"
    assert pulled <= UPLOAD_LIMIT // CHUNK + 2  # 4 chunks of 4 KB, not 1000


def test_declared_oversize_body_is_refused_before_reading(limited):
    response = limited.client.post(
        "/v1/jobs",
        content=b"x" * (UPLOAD_LIMIT + 1),
        headers={**limited.headers("submit"), "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert response.status_code == 413 and response.headers["connection"] == "close"


def test_anonymous_upload_is_refused_before_its_body_is_read(limited, clips):
    files = {"file": ("c.mp4", b"\0" * 5000, "video/mp4")}
    response = limited.client.post("/v1/jobs", files=files)
    assert response.status_code == 401 and response.headers["connection"] == "close"


def test_rate_limit_is_429_with_retry_after(limited):
    _, key = create_key(limited.service.store, "rate-test", "read")
    statuses = [limited.client.get("/v1/whoami", headers={"X-API-Key": key}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = limited.client.get("/v1/whoami", headers={"X-API-Key": key})
    assert response.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    # Buckets are per key: another key is unaffected.
    _, other = create_key(limited.service.store, "rate-test-2", "read")
    assert limited.client.get("/v1/whoami", headers={"X-API-Key": other}).status_code == 200
