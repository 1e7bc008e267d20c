"""The key store: its own database (default ``var/keys.sqlite``), apart from the main database.

It holds wrapped keys and the shred journal, nothing else. Its schema is created when it is opened
and carries a version row, so a store written by a newer release is refused rather than misread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Integer, LargeBinary, MetaData, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from privasi.db import NAMING, UTCDateTime, make_engine, normalise_url, utcnow
from privasi.vault.errors import VaultError

SCHEMA_VERSION = 1


class KeyStoreBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


class KeyStoreMeta(KeyStoreBase):
    """The single version row, with the id of the master key every key is wrapped under."""

    __tablename__ = "keystore_meta"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    schema_version: Mapped[int] = mapped_column(Integer)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class WrappedKey(KeyStoreBase):
    """One data key, AES-256-GCM wrapped by the master key; ``name`` is unique within an org."""

    __tablename__ = "vault_keys"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_vault_keys_org_name"),)

    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    # "subject:<id>" for a data subject's key, else the org key's purpose (blind_index, audit ...)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_key_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShredEntry(KeyStoreBase):
    """A subject whose key was destroyed; kept forever so a restored older store can be fixed."""

    __tablename__ = "shred_journal"
    __table_args__ = (UniqueConstraint("org_id", "subject_id", name="uq_shred_journal_subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(40), default=None)
    shredded_at: Mapped[datetime] = mapped_column(default=utcnow)


def _prepare_sqlite_file(url: str) -> None:
    """Create the SQLite file owner-only before SQLite creates it with the process umask."""
    path_text = url.removeprefix("sqlite:///")
    if url == path_text or path_text in {"", ":memory:"}:
        return
    path = Path(path_text)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)


class KeyStore:
    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        if self.url.startswith("sqlite:///"):
            _prepare_sqlite_file(self.url)
        self.engine = make_engine(self.url)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    def open(self, master_key_id: str) -> KeyStoreMeta:
        """Create the schema if needed; return the version row (first open records the master)."""
        try:
            KeyStoreBase.metadata.create_all(self.engine)
        except (IntegrityError, ProgrammingError):
            # Another process created the tables between our check and our CREATE: theirs do.
            KeyStoreBase.metadata.create_all(self.engine)
        with self.session() as session:
            meta = session.get(KeyStoreMeta, 1)
            if meta is None:
                meta = KeyStoreMeta(
                    id=1, schema_version=SCHEMA_VERSION, master_key_id=master_key_id
                )
                session.add(meta)
                try:
                    session.flush()
                except IntegrityError:
                    # Another process opened the store at the same moment.
                    session.rollback()
                    meta = session.get(KeyStoreMeta, 1)
                    assert meta is not None
            if meta.schema_version > SCHEMA_VERSION:
                raise VaultError(
                    f"the key store has schema version {meta.schema_version}; this release "
                    f"understands up to {SCHEMA_VERSION}: upgrade privasi"
                )
            return meta

    def meta(self, session: Session) -> KeyStoreMeta:
        meta = session.get(KeyStoreMeta, 1)
        if meta is None:
            raise VaultError("the key store has no version row; was it emptied?")
        return meta

    def find(self, session: Session, org_id: str, name: str) -> WrappedKey | None:
        return session.scalar(
            select(WrappedKey).where(WrappedKey.org_id == org_id, WrappedKey.name == name)
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
