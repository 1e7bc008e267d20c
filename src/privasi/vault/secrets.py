"""The organisations' secrets store: connector URLs, app secrets, provider keys, SMTP passwords.

Values are sealed under the organisation's secrets key from the key store and kept as ciphertext in
the main database. The policy file refers to a secret by name. ``get_secret`` is for services that
need the value (a connector opening its database); no API returns a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from privasi.audit import service as audit
from privasi.db import PrivasiSession, utcnow
from privasi.errors import NotFound, ValidationFailed
from privasi.orgs.service import Principal
from privasi.vault.core import Vault, vault_for
from privasi.vault.models import OrgSecret

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_VALUE_BYTES = 65536


@dataclass(frozen=True)
class SecretInfo:
    name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValidationFailed(
            "a secret name is 1-128 letters, digits, '_', '.' or '-', starting with a letter "
            "or digit",
            field="name",
        )
    return name


def _aad(name: str) -> str:
    return f"secret:{name}"


def _row(session: PrivasiSession, name: str) -> OrgSecret | None:
    return session.scalar(select(OrgSecret).where(OrgSecret.name == name))


def set_secret(
    session: PrivasiSession,
    principal: Principal,
    name: str,
    value: str,
    *,
    vault: Vault | None = None,
) -> bool:
    """Store or replace a secret; True when it is new. Audited with the name only."""
    session.require_org()
    check_name(name)
    if not isinstance(value, str) or not value:
        raise ValidationFailed("a secret value must not be empty", field="value")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise ValidationFailed(f"a secret value is at most {MAX_VALUE_BYTES} bytes", field="value")
    vault = vault or vault_for(session)
    sealed = vault.seal_for_org(principal.org_id, "secrets", value.encode(), _aad(name))
    row = _row(session, name)
    created = row is None
    now = utcnow()
    if row is None:
        row = OrgSecret(name=name, ciphertext=sealed, created_at=now, updated_at=now)
        session.add(row)
    else:
        row.ciphertext = sealed
        row.updated_at = now
    row.updated_by = principal.actor[:100]
    session.flush()
    audit.record(
        session, principal, "secret.set", details={"name": name, "created": created}, vault=vault
    )
    return created


def get_secret(session: PrivasiSession, name: str, *, vault: Vault | None = None) -> str:
    """The plain value, for internal use by services only; never return it from an API."""
    org_id = session.require_org()
    row = _row(session, check_name(name))
    if row is None:
        raise NotFound(f"no secret named '{name}' is stored for this organisation")
    vault = vault or vault_for(session)
    return vault.open_for_org(org_id, "secrets", row.ciphertext, _aad(name)).decode()


def has_secret(session: PrivasiSession, name: str) -> bool:
    session.require_org()
    return _row(session, check_name(name)) is not None


def list_secrets(session: PrivasiSession) -> list[SecretInfo]:
    session.require_org()
    rows = session.scalars(select(OrgSecret).order_by(OrgSecret.name))
    return [SecretInfo(r.name, r.created_at, r.updated_at, r.updated_by) for r in rows]


def delete_secret(
    session: PrivasiSession, principal: Principal, name: str, *, vault: Vault | None = None
) -> None:
    session.require_org()
    row = _row(session, check_name(name))
    if row is None:
        raise NotFound(f"no secret named '{name}' is stored for this organisation")
    session.delete(row)
    session.flush()
    audit.record(session, principal, "secret.deleted", details={"name": name}, vault=vault)
