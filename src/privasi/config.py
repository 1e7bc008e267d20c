"""Settings from ``PRIVASI_*`` environment variables.

Settings are read when the app or a command is built (``Settings()``), never at import, so tests and
several processes can run side by side with different values.
"""

from __future__ import annotations

import ipaddress
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    development = "development"
    production = "production"
    test = "test"


class UnsafeSettingsError(RuntimeError):
    """The settings would run an unsafe production service; the message says what to change."""


# Production argon2id parameters (RFC 9106 second recommendation, 64 MiB). Tests lower them through
# the same settings so the suite stays fast; tests/orgs asserts these defaults once.
ARGON2_TIME_COST = 3
ARGON2_MEMORY_KIB = 65536
ARGON2_PARALLELISM = 4


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRIVASI_", extra="ignore")

    env: Environment = Field(Environment.development, description="development, production or test")
    data_dir: Path = Field(Path("var"), description="where the SQLite files, keys and mail live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the main database; default SQLite in the data dir"
    )
    keystore_url: str | None = Field(
        None, description="SQLAlchemy URL of the key store; default var/keys.sqlite"
    )
    connector_local_databases: bool = Field(
        False,
        description="let `sql` connectors open SQLite files and databases on privasi's own "
        "database server (one business per install, or tests); off: refused",
    )
    master_key: str | None = Field(
        None,
        description="base64 of the 32-byte master key; default a file in the data dir (keep it apart)",
    )
    keystore_backup_days: int = Field(
        7, ge=1, description="how long key-store backups may be kept (erasure reaches backups then)"
    )
    secret_key: str | None = Field(
        None,
        description="secret for sessions and local encryption; default a file in the data dir",
    )
    host: str = Field("127.0.0.1", description="address `privasi serve` binds to")
    port: int = Field(8000, ge=1, le=65535, description="port `privasi serve` listens on")
    base_url: str | None = Field(
        None, description="public URL used in links; default from host/port"
    )
    debug: bool = Field(False, description="tracebacks in responses; refused on non-loopback binds")
    log_level: str = Field("INFO", description="logging level")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="largest accepted request body")
    session_hours: int = Field(12, ge=1, le=720, description="staff session lifetime")
    cookie_secure: bool | None = Field(
        None,
        description="force Secure cookies; always on in production or with an https base URL, "
        "else default on when the request is HTTPS",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1",
        description="proxies whose X-Forwarded-For/-Proto `privasi serve` trusts (comma-separated "
        "addresses or networks, * for any), as uvicorn's --forwarded-allow-ips",
    )
    login_max_failures: int = Field(5, ge=1, description="failed logins before lockout")
    login_lockout_minutes: int = Field(15, ge=1, description="lockout length")
    worker_in_process: bool = Field(True, description="`serve` runs the worker loop too")
    worker_interval_seconds: float = Field(5.0, gt=0, description="worker poll interval")
    argon2_time_cost: int = Field(ARGON2_TIME_COST, ge=1, description="argon2id passes")
    argon2_memory_kib: int = Field(ARGON2_MEMORY_KIB, ge=8, description="argon2id memory (KiB)")
    argon2_parallelism: int = Field(ARGON2_PARALLELISM, ge=1, description="argon2id lanes")
    demo_policy: Path | None = Field(None, description="policy file of the demo organisation")
    smtp_url: str | None = Field(
        None,
        description="outgoing mail: smtp://[user:pass@]host[:port][?starttls=1], smtps://..., or "
        "maildir:///path; default a maildir under the data dir",
    )
    mail_from: str = Field("privasi@localhost", description="sender address of outgoing e-mail")
    whatsapp_api_base: str = Field(
        "https://graph.facebook.com/v21.0",
        description="base URL of the WhatsApp Cloud API (messages go to BASE/PHONE_NUMBER_ID/messages)",
    )
    outbox_max_attempts: int = Field(
        10, ge=1, le=50, description="delivery attempts of an outgoing message before it fails"
    )
    meta_signed_request_max_age_seconds: int = Field(
        3600,
        ge=60,
        le=86400,
        description="oldest issued_at accepted in Meta's data-deletion signed_request (seconds)",
    )
    rights_erasure_cancel_hours: float = Field(
        0,
        ge=0,
        le=720,
        description="hours after verification during which an erasure can still be cancelled, "
        "before anything irreversible runs",
    )
    breach_business_user_hours: float = Field(
        24,
        gt=0,
        le=72,
        description="processor mode: hours after a breach is detected within which each affected "
        "Business User must be notified",
    )
    gateway_rate_limit_per_minute: int = Field(
        120,
        ge=1,
        description="LLM gateway: calls per API key and minute (an upstream may set its own)",
    )
    gateway_max_request_bytes: int = Field(
        262_144, ge=1024, description="LLM gateway: largest chat request body"
    )
    gateway_upstream_timeout_seconds: float = Field(
        60.0, gt=0, le=600, description="LLM gateway: how long to wait for the provider's answer"
    )
    gateway_detection_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="LLM gateway: longest PII detection before a call is refused"
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @cached_property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'privasi.sqlite').resolve()}"

    @cached_property
    def keys_url(self) -> str:
        return self.keystore_url or f"sqlite:///{(self.data_dir / 'keys.sqlite').resolve()}"

    @property
    def public_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return f"http://{self.host}:{self.port}"

    def check_safe(self) -> None:
        """Refuse settings that would expose a production service; raise with every problem named."""
        problems: list[str] = []
        if self.debug and not _is_loopback(self.host):
            problems.append(
                f"PRIVASI_DEBUG is on while binding {self.host}: debug pages leak internals; "
                "turn debug off or bind 127.0.0.1"
            )
        if self.env is Environment.production:
            if not self.secret_key:
                problems.append("PRIVASI_SECRET_KEY must be set in production (32+ random bytes)")
            elif len(self.secret_key) < 32:
                problems.append("PRIVASI_SECRET_KEY is shorter than 32 characters")
            if self.debug:
                problems.append("PRIVASI_DEBUG must be off in production")
            if not self.base_url or not self.base_url.startswith("https://"):
                problems.append("PRIVASI_BASE_URL must be an https:// URL in production")
        if problems:
            raise UnsafeSettingsError("Refusing to start:\n- " + "\n- ".join(problems))

    def resolved_secret_key(self) -> bytes:
        """The configured secret, or one kept in the data dir (created on first use, mode 0600)."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(48))
        return path.read_text().strip().encode()

    def describe(self) -> list[dict[str, Any]]:
        """Every setting with its environment variable and description, for the README and `--help`."""
        rows = []
        for name, field in type(self).model_fields.items():
            rows.append(
                {
                    "env": f"PRIVASI_{name.upper()}",
                    "default": field.default,
                    "help": field.description,
                }
            )
        return rows


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
