"""API keys: creation, hashing at rest, verification, roles.

A key reads `avk_<id>_<secret>`. The database keeps the id (public), a random per-key salt and
sha256(salt + secret); never the key. A fast hash is enough because the secret is 256 random bits (nothing to
brute-force, unlike a password); the comparison is constant-time. Revoked keys stop working at once.

Roles nest: `read` (list and view jobs, batches, events, results, stats) ⊂ `submit` (also submit jobs and
batches, cancel its own jobs) ⊂ `admin` (also cancel anyone's jobs, manage keys).

Bootstrap: `avagent serve --create-key NAME --role admin` prints a new key once; or, for a fresh deployment,
set AVAGENT_SERVICE__BOOTSTRAP_ADMIN_KEY_SHA256 to sha256(SECRET) and use the key `avk_bootstrap_SECRET`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from avagent.core.errors import ParameterError
from avagent.workers.models import ROLES, ApiKey, utcnow
from avagent.workers.store import JobStore

KEY_PREFIX = "avk"
BOOTSTRAP_KEY_ID = "bootstrap"
_KEY = re.compile(r"^avk_([a-z0-9]{1,32})_([A-Za-z0-9_\-]{16,200})$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
SECRET_BYTES = 32  # 256 bits
SALT_BYTES = 16


@dataclass(frozen=True)
class Principal:
    """The caller, as established from its API key."""

    key_id: str
    name: str
    role: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_secret(salt_hex: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt_hex) + secret.encode()).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    match = _KEY.match(key.strip())
    return (match.group(1), match.group(2)) if match else None


def create_key(store: JobStore, name: str, role: str) -> tuple[ApiKey, str]:
    """Store a new key; returns the row and the key itself, which is never stored and cannot be shown again."""
    if role not in ROLES:
        raise ParameterError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    key_id, secret, salt = secrets.token_hex(6), secrets.token_urlsafe(SECRET_BYTES), secrets.token_hex(SALT_BYTES)
    row = ApiKey(id=key_id, name=name, role=role, salt=salt, secret_sha256=hash_secret(salt, secret))
    with store.write() as s:
        if s.scalars(select(ApiKey).where(ApiKey.name == name)).first() is not None:
            raise ParameterError(f"an API key named {name!r} already exists")
        s.add(row)
    return row, f"{KEY_PREFIX}_{key_id}_{secret}"


def authenticate(store: JobStore, key: str) -> Principal | None:
    parsed = parse_key(key)
    if parsed is None:
        return None
    key_id, secret = parsed
    with store.read() as s:
        row = s.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(hash_secret(row.salt, secret), row.secret_sha256):
        return None
    return Principal(row.id, row.name, row.role)


def list_keys(store: JobStore) -> list[ApiKey]:
    with store.read() as s:
        return list(s.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(store: JobStore, key_id: str) -> ApiKey | None:
    with store.write() as s:
        row = s.get(ApiKey, key_id)
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()
        return row


def ensure_bootstrap_key(store: JobStore, secret_sha256: str) -> None:
    """Make `avk_bootstrap_<SECRET>` an admin key, given only sha256(SECRET) from the configuration."""
    digest = secret_sha256.strip().lower()
    if not _SHA256_HEX.match(digest):
        raise ParameterError("bootstrap_admin_key_sha256 must be 64 hex digits: sha256 of the key's secret")
    with store.write() as s:
        row = s.get(ApiKey, BOOTSTRAP_KEY_ID)
        if row is None:
            s.add(ApiKey(id=BOOTSTRAP_KEY_ID, name="bootstrap-admin", role="admin", salt="", secret_sha256=digest))
        elif row.secret_sha256 != digest:
            row.secret_sha256, row.revoked_at = digest, None
