"""Settings come from PRIVASI_* variables and unsafe production settings refuse to start."""

from __future__ import annotations

import pytest

from privasi import config
from privasi.config import Settings, UnsafeSettingsError


def test_env_variables_are_read_at_build_time(monkeypatch, tmp_path):
    monkeypatch.setenv("PRIVASI_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PRIVASI_DATABASE_URL", "postgresql://u@db/privasi")
    s = Settings()
    assert s.db_url == "postgresql://u@db/privasi"
    assert s.keys_url.endswith("keys.sqlite")
    monkeypatch.delenv("PRIVASI_DATABASE_URL")
    assert Settings().db_url.endswith("privasi.sqlite")


def test_debug_on_public_bind_refused(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path, debug=True, host="0.0.0.0")
    with pytest.raises(UnsafeSettingsError, match="PRIVASI_DEBUG"):
        s.check_safe()
    Settings(_env_file=None, data_dir=tmp_path, debug=True, host="127.0.0.1").check_safe()


def test_production_needs_keys_and_https(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path, env="production")
    with pytest.raises(UnsafeSettingsError) as info:
        s.check_safe()
    assert "PRIVASI_SECRET_KEY" in str(info.value) and "PRIVASI_BASE_URL" in str(info.value)
    ok = Settings(
        _env_file=None,
        data_dir=tmp_path,
        env="production",
        secret_key="k" * 40,
        base_url="https://privasi.example",
    )
    ok.check_safe()


def test_bad_values_are_named(monkeypatch):
    monkeypatch.setenv("PRIVASI_PORT", "99999")
    with pytest.raises(ValueError, match="port"):
        Settings()


def test_production_argon2_parameters():
    s = Settings(_env_file=None)
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (3, 65536, 4)
    assert config.ARGON2_MEMORY_KIB >= 65536


def test_secret_key_file_is_private_and_stable(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path / "var")
    first = s.resolved_secret_key()
    assert first == s.resolved_secret_key()
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o077 == 0
