"""Officers: who may log in, their hubs and role, and argon2id password hashes.

An officer sees and closes the cases of their own hubs; a supervisor sees every hub.
Passwords are only ever kept as argon2id hashes (argon2-cffi's defaults, rehashed on login
when those defaults grow).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, insert, select, update

from workbench.tables import officer_hubs, officers

ROLES = ("officer", "supervisor")
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
MIN_PASSWORD_CHARS = 12
_hasher = PasswordHasher()
# verified against when the user name is unknown, so a wrong name costs as long as a wrong
# password and the answer time does not tell which names exist
_DUMMY_HASH = _hasher.hash("riskstream-no-such-officer")


@dataclass(frozen=True)
class Officer:
    """A logged-in officer, as the web application sees them."""

    username: str
    role: str
    unit: str
    hubs: frozenset[str]
    # a few characters of the password hash: a session made before a password change ends
    session_stamp: str = ""

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    def may_work_on(self, hub: str | None) -> bool:
        """Whether this officer may see, claim and close a case of ``hub``.

        >>> Officer("olga", "officer", "unit_LEJ", frozenset({"hub_LEJ"})).may_work_on("hub_FRA")
        False
        """
        return self.supervisor or (hub is not None and hub in self.hubs)


def add_officer(
    engine: Engine,
    username: str,
    password: str,
    hubs: Iterable[str] = (),
    role: str = "officer",
    unit: str | None = None,
) -> Officer:
    """Create an officer, or replace one of that name (a new password, hubs, role, unit)."""
    hubs = frozenset(hubs)
    if not USERNAME.fullmatch(username):
        raise ValueError(f"user name must match {USERNAME.pattern}")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if role == "officer" and not hubs:
        raise ValueError("an officer needs at least one hub (a supervisor sees them all)")
    unit = unit or (f"unit_{sorted(hubs)[0].removeprefix('hub_')}" if hubs else "unit_central")
    hashed = _hasher.hash(password)
    with engine.begin() as connection:
        connection.execute(delete(officers).where(officers.c.username == username))
        connection.execute(insert(officers).values(
            username=username, password_hash=hashed, role=role, unit=unit, active=True,
            created_at=datetime.now(UTC),
        ))
        for hub in sorted(hubs):
            connection.execute(insert(officer_hubs).values(username=username, hub=hub))
    return Officer(username, role, unit, hubs, hashed[-12:])


def authenticate(engine: Engine, username: str, password: str) -> Officer | None:
    """The officer if ``password`` is theirs and they are active, else None."""
    with engine.connect() as connection:
        row = connection.execute(
            select(officers.c.password_hash, officers.c.active)
            .where(officers.c.username == username)
        ).first()
    hashed = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    if _hasher.check_needs_rehash(hashed):
        with engine.begin() as connection:
            connection.execute(update(officers).where(officers.c.username == username)
                               .values(password_hash=_hasher.hash(password)))
    return load_officer(engine, username)


def load_officer(engine: Engine, username: str) -> Officer | None:
    """An active officer by name, with their hubs (None if unknown or deactivated)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(officers).where(officers.c.username == username, officers.c.active)
        ).first()
        if row is None:
            return None
        hubs = connection.execute(
            select(officer_hubs.c.hub).where(officer_hubs.c.username == username)
        ).scalars()
        return Officer(row.username, row.role, row.unit, frozenset(hubs), row.password_hash[-12:])


def known_hubs(engine: Engine) -> list[str]:
    """Every hub some officer works at (the metrics pre-create their series)."""
    with engine.connect() as connection:
        return sorted(set(connection.execute(select(officer_hubs.c.hub)).scalars()))
