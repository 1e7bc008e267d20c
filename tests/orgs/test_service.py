"""Staff accounts: passwords, lockout, TOTP, one-time passwords; organisations' own rules."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from privasi.db import utcnow
from privasi.errors import Conflict, Locked, Unauthenticated, ValidationFailed
from privasi.orgs import service as orgs


@pytest.fixture
def acme(db):
    with db.session(system=True) as s:
        return orgs.create_org(s, "acme", "Acme", time_zone="Asia/Makassar")


def test_org_rules(db, acme):
    with db.session(system=True) as s:
        with pytest.raises(Conflict):
            orgs.create_org(s, "acme", "Again")
        with pytest.raises(ValidationFailed, match="slug"):
            orgs.create_org(s, "Bad Slug", "x")
        with pytest.raises(ValidationFailed, match="time zone"):
            orgs.create_org(s, "mars", "Mars", time_zone="Mars/Olympus")
        with pytest.raises(ValidationFailed, match="role"):
            orgs.create_org(s, "weird", "W", role="broker")


def test_one_time_password_must_be_changed_and_is_shown_until_then(db, settings, acme):
    with db.session(acme.id) as s:
        user, one_time = orgs.create_staff(s, settings, email="dpo@acme.example", role="dpo")
        assert user.must_change_password
        assert orgs.pending_password(settings, user) == one_time
        assert one_time not in (user.pending_password_enc or "")
        assert orgs.check_password(s, settings, "DPO@acme.example", one_time).id == user.id
        with pytest.raises(ValidationFailed, match="12"):
            orgs.set_password(s, settings, user, "short")
        orgs.set_password(s, settings, user, "a much better passphrase")
        assert orgs.pending_password(settings, user) is None
        assert not user.must_change_password


def test_lockout_after_repeated_failures(db, settings, acme):
    with db.session(acme.id) as s:
        orgs.create_staff(
            s, settings, email="a@acme.example", role="agent", password="correct horse battery"
        )
    for _ in range(settings.login_max_failures):
        with pytest.raises(Unauthenticated), db.session(acme.id) as s:
            try:
                orgs.check_password(s, settings, "a@acme.example", "wrong password!")
            finally:
                s.commit()
    with pytest.raises(Locked) as info, db.session(acme.id) as s:
        orgs.check_password(s, settings, "a@acme.example", "correct horse battery")
    assert 0 < info.value.extra["retry_after"] <= settings.login_lockout_minutes * 60
    # unknown accounts fail the same way as wrong passwords
    with pytest.raises(Unauthenticated, match="wrong e-mail or password"), db.session(acme.id) as s:
        orgs.check_password(s, settings, "nobody@acme.example", "whatever")


def test_totp_enrolment_codes_are_single_use(db, settings, acme):
    with db.session(acme.id) as s:
        user, _ = orgs.create_staff(s, settings, email="o@acme.example", role="owner")
        assert orgs.mfa_required(user)
        secret, uri = orgs.start_totp_enrolment(s, settings, user, "acme")
        assert uri.startswith("otpauth://totp/") and "issuer=privasi" in uri
        assert secret not in (user.totp_secret_enc or "")
        code = pyotp.TOTP(secret).now()
        orgs.confirm_totp_enrolment(s, settings, user, code)
        assert user.totp_enabled
        with pytest.raises(Unauthenticated):
            orgs.verify_totp(s, settings, user, code)  # replay of the enrolment code
        with pytest.raises(Unauthenticated):
            orgs.verify_totp(s, settings, user, "000000")
        next_code = pyotp.TOTP(secret).at(utcnow() + timedelta(seconds=30))
        orgs.verify_totp(s, settings, user, next_code)  # within one step of drift


def test_agents_do_not_need_mfa(db, settings, acme):
    with db.session(acme.id) as s:
        user, _ = orgs.create_staff(s, settings, email="g@acme.example", role="agent")
        assert not orgs.mfa_required(user)
