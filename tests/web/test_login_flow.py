"""The staff login flow through the real pages: password, TOTP enrolment, password change, home."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def test_owner_first_login_enrols_totp_then_changes_password(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    owner = make_staff("owner", one_time_password=True, name="Budi Santoso")

    response = pages.login(owner)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/mfa/setup"

    # Until TOTP is set up, every other page sends the owner back to the enrolment.
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/mfa/setup"
    page = client.get("/admin/mfa/setup")
    assert "<svg" in page.text and "otpauth://totp/" in page.text

    response = pages.enrol_totp(owner)
    assert response.headers["location"] == "/admin/password"
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/password"

    response = pages.post_form(
        "/admin/password",
        {"password": "teh-manis-hangat-77", "password_confirm": "teh-manis-hangat-77"},
    )
    assert response.headers["location"] == "/admin"
    home = client.get("/admin")
    assert home.status_code == 200
    assert "Toko Melati" in home.text
    assert "Pemilik" in home.text  # role, in the default language
    assert 'href="/docs"' in home.text


def test_totp_login_and_replayed_code_refused(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    dpo = make_staff("dpo", with_totp=True)
    code = dpo.code()

    response = pages.login(dpo)
    assert response.headers["location"] == "/admin/login/totp"
    # Past the password but not the second factor: neither the pages nor the API let the session in.
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login/totp"
    assert client.get("/api/v1/org").status_code == 401

    response = pages.post_form("/admin/login/totp", {"code": code})
    assert response.headers["location"] == "/admin"
    assert client.get("/api/v1/org").json()["slug"] == dpo.org_slug
    pages.logout()

    pages.login(dpo)
    replay = pages.post_form("/admin/login/totp", {"code": code})
    assert replay.status_code == 401
    assert "sudah pernah dipakai" in replay.text
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login/totp"

    # The next time step is a fresh code and is accepted.
    ok = pages.post_form("/admin/login/totp", {"code": dpo.code(steps_ahead=1)})
    assert ok.headers["location"] == "/admin"


def test_the_totp_session_cookie_is_replaced_after_the_second_factor(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    dpo = make_staff("dpo", with_totp=True)
    pages.login(dpo)
    before = client.cookies.get("privasi_session")
    pages.post_form("/admin/login/totp", {"code": dpo.code()})
    after = client.cookies.get("privasi_session")
    assert before and after and before != after
    # The token seen before the second factor is worthless now.
    client.cookies.clear()
    client.cookies.set("privasi_session", before)
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"


def test_wrong_password_unknown_email_and_unknown_org_get_the_same_answer(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    agent = make_staff("agent")
    answers = [
        pages.login(agent, password="bukan-kata-sandinya"),
        pages.login(agent, org="tidak-ada"),
    ]
    other = type(agent)(**{**agent.__dict__, "email": "tidak.ada@toko-melati.contoh.test"})
    answers.append(pages.login(other))
    for response in answers:
        assert response.status_code == 401
        assert "Organisasi, alamat e-mail, atau kata sandi tidak benar." in response.text
    assert client.cookies.get("privasi_session") is None


def test_lockout_after_repeated_failures_even_with_the_right_password(
    client: TestClient, pages: Any, make_staff: Any, settings: Any
) -> None:
    agent = make_staff("agent")
    for _ in range(settings.login_max_failures):
        assert pages.login(agent, password="salah-terus-menerus").status_code == 401
    locked = pages.login(agent)
    assert locked.status_code == 429
    minutes = settings.login_lockout_minutes
    assert f"ditangguhkan selama {minutes} menit" in locked.text
    client.cookies.set("privasi_lang", "en")
    locked_en = pages.login(agent)
    assert f"sign-in is paused for {minutes} minutes" in locked_en.text
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"


def test_wrong_totp_codes_lock_the_account(
    client: TestClient, pages: Any, make_staff: Any, settings: Any
) -> None:
    dpo = make_staff("dpo", with_totp=True)
    pages.login(dpo)
    for _ in range(settings.login_max_failures):
        assert pages.post_form("/admin/login/totp", {"code": "000000"}).status_code == 401
    locked = pages.post_form("/admin/login/totp", {"code": dpo.code()})
    assert locked.status_code == 429
    assert "Terlalu banyak kode yang salah" in locked.text


def test_must_change_password_is_enforced_for_pages_and_api(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    agent = make_staff("agent", one_time_password=True)
    assert pages.login(agent).headers["location"] == "/admin/password"
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/password"
    assert client.get("/api/v1/org").status_code == 401

    mismatch = pages.post_form("/admin/password", {"password": "a" * 6, "password_confirm": "b"})
    assert mismatch.status_code == 400 and "tidak sama" in mismatch.text
    short = pages.post_form("/admin/password", {"password": "pendek", "password_confirm": "pendek"})
    assert short.status_code == 400 and "minimal 12 karakter" in short.text
    same = pages.post_form(
        "/admin/password", {"password": agent.password, "password_confirm": agent.password}
    )
    assert same.status_code == 400 and "harus berbeda" in same.text

    new = "nasi-goreng-kampung-9"
    done = pages.post_form("/admin/password", {"password": new, "password_confirm": new})
    assert done.headers["location"] == "/admin"
    assert "Kata sandi Anda sudah diganti" in client.get("/admin").text
    assert client.get("/api/v1/org").status_code == 200

    # The one-time password no longer works; the new one does.
    pages.logout()
    assert pages.login(agent).status_code == 401
    agent.password = new
    assert pages.login(agent).headers["location"] == "/admin"


def test_voluntary_password_change_asks_for_the_current_password_and_ends_other_sessions(
    app: Any, client: TestClient, pages: Any, make_staff: Any
) -> None:
    agent = make_staff("agent")
    pages.full_login(agent)
    with TestClient(app) as other_device:
        other = type(pages)(other_device)
        other.full_login(agent)
        assert other_device.get("/admin").status_code == 200

        new = "soto-ayam-lamongan-3"
        wrong = pages.post_form(
            "/admin/password",
            {"current_password": "bukan-ini", "password": new, "password_confirm": new},
        )
        assert wrong.status_code == 400 and "saat ini tidak benar" in wrong.text
        done = pages.post_form(
            "/admin/password",
            {"current_password": agent.password, "password": new, "password_confirm": new},
        )
        assert done.headers["location"] == "/admin"
        assert client.get("/admin").status_code == 200
        assert other_device.get("/admin", follow_redirects=False).status_code == 303


def test_logout_invalidates_the_session_server_side(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    agent = make_staff("agent")
    pages.full_login(agent)
    token = client.cookies.get("privasi_session")
    assert client.get("/api/v1/org").status_code == 200

    response = pages.logout()
    assert response.headers["location"] == "/admin/login"
    assert 'privasi_session=""' in response.headers["set-cookie"]
    assert "Anda sudah keluar" in client.get("/admin/login").text

    # Replaying the old cookie finds nothing: the session row is gone, not just the cookie.
    client.cookies.set("privasi_session", token)
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/api/v1/org").status_code == 401


def test_api_calls_with_the_session_cookie_need_the_csrf_header_on_unsafe_methods(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    owner = make_staff("owner", with_totp=True)
    pages.full_login(owner)
    token = pages.csrf_of_home()
    assert f'<meta name="csrf-token" content="{token}">' in client.get("/admin").text

    assert client.get("/api/v1/org").status_code == 200
    missing = client.patch("/api/v1/org", json={"name": "Toko Melati Jaya"})
    assert missing.status_code == 403
    wrong = client.patch(
        "/api/v1/org", json={"name": "Toko Melati Jaya"}, headers={"X-CSRF-Token": "x" * 43}
    )
    assert wrong.status_code == 403
    assert client.get("/api/v1/org").json()["name"] == "Toko Melati"

    ok = client.patch(
        "/api/v1/org", json={"name": "Toko Melati Jaya"}, headers={"X-CSRF-Token": token}
    )
    assert ok.status_code == 200
    assert ok.json()["name"] == "Toko Melati Jaya"


def test_processor_staff_switch_to_a_hosted_organisation(
    client: TestClient, db: Any, pages: Any, make_staff: Any
) -> None:
    from privasi.orgs import service as orgs

    agent = make_staff(
        "agent", slug="layanan-pesan", org_name="Layanan Pesan", org_role="processor"
    )
    make_staff("agent", slug="warung-kopi", org_name="Warung Kopi Senja")
    make_staff("agent", slug="bengkel-jaya", org_name="Bengkel Jaya")
    with db.session(system=True) as s:
        processor = orgs.get_org_by_slug(s, "layanan-pesan")
        hosted_id = orgs.get_org_by_slug(s, "warung-kopi").id
    with db.session(hosted_id) as s:
        orgs.create_hosting_grant(
            s,
            processor=processor,
            actions=["org.read", "requests.read"],
            instructions="Tangani pesan WhatsApp pelanggan sesuai instruksi tertulis.",
            approved_subprocessors=[],
        )

    pages.full_login(agent)
    home = client.get("/admin")
    assert "Warung Kopi Senja" in home.text
    assert "Bengkel Jaya" not in home.text  # no grant, not offered

    switched = pages.post_form("/admin/switch-org", {"org": "warung-kopi"}, page="/admin")
    assert switched.headers["location"] == "/admin"
    home = client.get("/admin")
    assert "Sekarang Anda bekerja di Warung Kopi Senja" in home.text
    assert client.get("/api/v1/org").json()["slug"] == "warung-kopi"

    refused = pages.post_form("/admin/switch-org", {"org": "bengkel-jaya"}, page="/admin")
    assert refused.headers["location"] == "/admin"
    assert "tidak tersedia untuk Anda" in client.get("/admin").text
    assert client.get("/api/v1/org").json()["slug"] == "warung-kopi"

    pages.post_form("/admin/switch-org", {"org": "layanan-pesan"}, page="/admin")
    assert client.get("/api/v1/org").json()["slug"] == "layanan-pesan"

    # The controller's own audit trail shows the processor's staff member coming in.
    from privasi.audit import service as audit

    with db.session(hosted_id) as s:
        entered = audit.query(s, action="staff.entered_org").items
    assert [e.actor for e in entered] == [f"staff:{agent.user_id}"]


def test_login_events_are_logged_without_e_mail_addresses(
    client: TestClient, pages: Any, make_staff: Any, caplog: Any
) -> None:
    caplog.set_level("INFO", logger="privasi.web")
    agent = make_staff("agent")
    pages.login(agent, password="salah-sekali-lagi")
    pages.login(agent, org="tidak-ada")
    pages.full_login(agent)
    pages.logout()
    messages = [r.getMessage() for r in caplog.records if r.name == "privasi.web"]
    assert {"staff login failed", "staff password accepted", "staff logged out"} <= set(messages)
    for record in caplog.records:
        assert agent.email not in str(record.__dict__)
        assert "@" not in record.getMessage()


def test_an_agent_may_turn_on_totp_and_is_then_asked_for_it(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    agent = make_staff("agent")
    pages.full_login(agent)
    home = client.get("/admin")
    assert 'href="/admin/mfa/setup"' in home.text and "Tidak aktif" in home.text

    assert pages.enrol_totp(agent).headers["location"] == "/admin"
    assert "Verifikasi dua langkah sudah aktif" in client.get("/admin").text
    # Once on, the enrolment page is closed and the next login asks for a code.
    assert client.get("/admin/mfa/setup", follow_redirects=False).headers["location"] == "/admin"
    pages.logout()
    assert pages.login(agent).headers["location"] == "/admin/login/totp"
    assert pages.post_form("/admin/login/totp", {"code": agent.code(1)}).status_code == 303


def test_signing_in_again_ends_the_previous_session(
    client: TestClient, pages: Any, make_staff: Any
) -> None:
    dpo = make_staff("dpo", with_totp=True)
    pages.login(dpo)  # stopped at the TOTP step, so the login page is still offered
    first = client.cookies.get("privasi_session")
    pages.login(dpo)
    second = client.cookies.get("privasi_session")
    assert first and second and first != second
    client.cookies.clear()
    client.cookies.set("privasi_session", first)
    assert client.get("/admin/login/totp", follow_redirects=False).headers["location"] == (
        "/admin/login"
    )


def test_expired_or_disabled_sessions_are_not_accepted(
    client: TestClient, db: Any, pages: Any, make_staff: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from privasi.orgs import service as orgs
    from privasi.orgs.models import StaffSession

    agent = make_staff("agent")
    make_staff("owner", email="pemilik@toko-melati.contoh.test")
    pages.full_login(agent)
    assert client.get("/api/v1/org").status_code == 200

    with db.session(agent.org_id) as s:
        s.execute(update(StaffSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/api/v1/org").status_code == 401

    pages.full_login(agent)
    with db.session(agent.org_id) as s:
        orgs.update_staff(s, orgs.get_staff(s, agent.user_id), active=False)
    assert client.get("/admin", follow_redirects=False).headers["location"] == "/admin/login"
    assert client.get("/api/v1/org").status_code == 401


def test_sign_in_events_reach_the_audit_trail_without_personal_data(
    client: TestClient, db: Any, pages: Any, make_staff: Any, settings: Any
) -> None:
    from privasi.audit import service as audit

    dpo = make_staff("dpo", with_totp=True)
    pages.login(dpo, password="bukan-kata-sandi-ini")
    pages.login(dpo)
    pages.post_form("/admin/login/totp", {"code": "000000"})
    pages.post_form("/admin/login/totp", {"code": dpo.code()})
    pages.logout()
    for _ in range(settings.login_max_failures):
        pages.login(dpo, password="masih-salah-juga")
    pages.login(dpo)  # refused: locked

    with db.session(dpo.org_id) as s:
        events = list(reversed(audit.query(s, action="staff.*").items))
        assert [e.action for e in events if e.action != "staff.created"] == [
            "staff.login_failed",
            "staff.mfa_failed",
            "staff.logged_in",
            "staff.logged_out",
            *["staff.login_failed"] * settings.login_max_failures,
            "staff.login_refused",
        ]
        logged_out = next(e for e in events if e.action == "staff.logged_out")
        assert logged_out.actor == f"staff:{dpo.user_id}"
        assert events[-1].actor == "system:web-login"
        assert events[-1].details == {"reason": "locked"}
        assert dpo.email not in repr([(e.details, e.actor, e.purpose) for e in events])
        assert audit.verify(s, dpo.org_id).ok
