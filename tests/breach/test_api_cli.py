"""The breach API and the ``privasi breaches`` commands, and org B never seeing org A's breach."""

from __future__ import annotations

import json
import zipfile
from datetime import timedelta

from typer.testing import CliRunner

from privasi.breach.cli import app as cli_app
from privasi.db import utcnow
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects

from .conftest import publish

runner = CliRunner()
TEXTS = {
    "description": {
        "id": "Laptop staf berisi ekspor data hilang.",
        "en": "A staff laptop with an export was lost.",
    },
    "measures": {
        "id": "Akun dikunci dan laptop dilacak.",
        "en": "Accounts were locked and the laptop traced.",
    },
}


def _create(client, clinic, **extra):
    body = {
        "title": "Laptop hilang",
        "detected_at": (utcnow() - timedelta(hours=6)).isoformat(),
        "severity": "high",
        "categories": ["contact"],
        **TEXTS,
        **extra,
    }
    r = client.post(
        "/api/v1/breaches", json=body, headers={**clinic.headers, "Idempotency-Key": "br-1"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_api_register_clocks_and_notices(client, db, clinic):
    created = _create(client, clinic)
    again = client.post(
        "/api/v1/breaches",
        json={
            "title": "Laptop hilang",
            "detected_at": created["detected_at"],
            "severity": "high",
            "categories": ["contact"],
            **TEXTS,
        },
        headers={**clinic.headers, "Idempotency-Key": "br-1"},
    )
    assert (
        again.headers.get("Idempotent-Replayed") == "true" and again.json()["id"] == created["id"]
    )
    assert created["reference"] == "BR-0001" and created["status"] == "detected"
    clocks = {c["name"]: c for c in created["clocks"]}
    assert set(clocks) == {"subjects", "authority"}
    # 72 hours from awareness; 6 of them gone.
    assert 65 * 3600 < clocks["subjects"]["time_left_seconds"] <= 66 * 3600
    assert clocks["authority"]["share_used"] == 8.3
    assert created["time_left_seconds"] == clocks["subjects"]["time_left_seconds"]
    assert created["timeline"][0]["kind"] == "recorded"

    breach_id = created["id"]
    listed = client.get("/api/v1/breaches?open=true", headers=clinic.headers).json()["items"]
    assert [b["id"] for b in listed] == [breach_id]

    bad = client.post(
        "/api/v1/breaches", json={"title": "x", "categories": ["nope"]}, headers=clinic.headers
    )
    assert bad.status_code == 422 and "categories.0" in bad.text

    confirmed = client.post(
        f"/api/v1/breaches/{breach_id}/confirm", json={}, headers=clinic.headers
    )
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["confirmed_at"]

    with db.session(clinic.id) as s:
        subjects.find_or_create(
            s, orgs.system_principal(clinic.id), {"email": "fajar@pasien.example"}
        )
    imported = client.post(
        f"/api/v1/breaches/{breach_id}/affected/import",
        json={"csv": "fajar@pasien.example\nnobody@pasien.example\n"},
        headers=clinic.headers,
    ).json()
    assert imported["added"] == 1 and imported["unmatched"] == 1
    assert imported["affected"]["total"] == 1

    drafted = client.post(f"/api/v1/breaches/{breach_id}/notices", headers=clinic.headers).json()
    assert [n["audience"] for n in drafted] == ["subjects", "authority"]
    assert "Data kontak" in drafted[0]["preview"]["id"]["text"]
    assert "Contact details" in drafted[0]["preview"]["en"]["text"]
    # An API key never approves what is sent to the people affected: a DPO does.
    r = client.post(
        f"/api/v1/breaches/{breach_id}/notices/subjects/approve", headers=clinic.headers
    )
    assert r.status_code == 403
    r = client.post(f"/api/v1/breaches/{breach_id}/notices/subjects/send", headers=clinic.headers)
    assert r.status_code == 409

    doc = client.get(
        f"/api/v1/breaches/{breach_id}/authority-notice?format=html", headers=clinic.headers
    )
    assert doc.status_code == 200 and "<h1>Pemberitahuan kegagalan" in doc.text
    assert '<section lang="en">\n<h1>Notice of a personal data breach</h1>' in doc.text
    assert "fajar@" not in doc.text
    pack = client.get(f"/api/v1/breaches/{breach_id}/evidence", headers=clinic.headers).json()
    assert pack["affected"]["total"] == 1 and "fajar@" not in json.dumps(pack)

    closed = client.post(
        f"/api/v1/breaches/{breach_id}/close",
        json={"reason": "Laptop ditemukan terkunci; data tidak terbuka.", "dismissed": True},
        headers=clinic.headers,
    )
    assert closed.json()["status"] == "dismissed"
    assert client.get("/api/v1/breaches?open=true", headers=clinic.headers).json()["items"] == []


def test_org_b_cannot_see_or_touch_org_a_breach(client, db, clinic, make_org):
    created = _create(client, clinic)
    other = make_org("toko-lain")
    publish(db, other.id, (clinic_policy := _policy_for("toko-lain")))
    assert clinic_policy
    breach_id = created["id"]
    assert client.get("/api/v1/breaches", headers=other.headers).json()["items"] == []
    for method, path, body in [
        ("GET", f"/api/v1/breaches/{breach_id}", None),
        ("PATCH", f"/api/v1/breaches/{breach_id}", {"title": "B was here"}),
        ("POST", f"/api/v1/breaches/{breach_id}/confirm", {}),
        ("POST", f"/api/v1/breaches/{breach_id}/notes", {"note": "x"}),
        ("GET", f"/api/v1/breaches/{breach_id}/affected", None),
        ("POST", f"/api/v1/breaches/{breach_id}/affected/discover", None),
        ("POST", f"/api/v1/breaches/{breach_id}/affected/import", {"csv": "a@b.example"}),
        ("POST", f"/api/v1/breaches/{breach_id}/notices", None),
        ("GET", f"/api/v1/breaches/{breach_id}/notices", None),
        ("POST", f"/api/v1/breaches/{breach_id}/notices/subjects/approve", None),
        ("POST", f"/api/v1/breaches/{breach_id}/notices/subjects/send", {}),
        ("GET", f"/api/v1/breaches/{breach_id}/deliveries", None),
        ("GET", f"/api/v1/breaches/{breach_id}/authority-notice", None),
        ("GET", f"/api/v1/breaches/{breach_id}/evidence", None),
        ("POST", f"/api/v1/breaches/{breach_id}/close", {"reason": "x"}),
    ]:
        r = client.request(method, path, json=body, headers=other.headers)
        assert r.status_code == 404, f"{method} {path}: {r.status_code}"
        assert "Laptop" not in r.text
    # B's own register starts at its own number and A's is untouched.
    mine = client.post("/api/v1/breaches", json={"title": "B's incident"}, headers=other.headers)
    assert mine.json()["reference"] == "BR-0001"
    a_view = client.get(f"/api/v1/breaches/{breach_id}", headers=clinic.headers).json()
    assert a_view["title"] == "Laptop hilang" and a_view["status"] == "detected"


def _policy_for(slug: str) -> str:
    from .conftest import POLICY

    return POLICY.read_text().replace("slug: klinik-contoh", f"slug: {slug}")


def _env(settings):
    return {
        "PRIVASI_ENV": "test",
        "PRIVASI_DATA_DIR": str(settings.data_dir),
        "PRIVASI_DATABASE_URL": settings.db_url,
        "PRIVASI_KEYSTORE_URL": settings.keys_url,
        "PRIVASI_MASTER_KEY": settings.master_key or "",
        "PRIVASI_SECRET_KEY": settings.secret_key or "",
    }


def test_cli_from_create_to_evidence_pack(db, settings, clinic, tmp_path):
    env = _env(settings)
    with db.session(clinic.id) as s:
        subjects.find_or_create(
            s, orgs.system_principal(clinic.id), {"email": "gita@pasien.example"}
        )
    created = runner.invoke(
        cli_app,
        [
            "create",
            "klinik-contoh",
            "--title",
            "Salah kirim email",
            "--category",
            "contact",
            "--how-id",
            "Email massal memuat daftar penerima yang terlihat.",
            "--how-en",
            "A bulk e-mail showed its list of recipients.",
            "--measures-id",
            "Penerima diminta menghapus email itu.",
            "--measures-en",
            "Recipients were asked to delete the e-mail.",
        ],
        env=env,
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["reference"] == "BR-0001"
    listing = tmp_path / "list.csv"
    listing.write_text("email\ngita@pasien.example\n")
    steps = [
        ["confirm", "klinik-contoh", "BR-0001"],
        ["affected", "klinik-contoh", "BR-0001", "--import", str(listing)],
        ["draft-notices", "klinik-contoh", "BR-0001"],
        ["approve", "klinik-contoh", "BR-0001", "subjects", "--dpo", clinic.dpo_email],
        ["send", "klinik-contoh", "BR-0001", "subjects"],
        ["approve", "klinik-contoh", "BR-0001", "authority", "--dpo", clinic.dpo_email],
        ["send", "klinik-contoh", "BR-0001", "authority", "--submission", "Surat No. 12/2026"],
        ["close", "klinik-contoh", "BR-0001", "--reason", "Selesai."],
    ]
    outputs = []
    for args in steps:
        result = runner.invoke(cli_app, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    assert json.loads(outputs[1])["affected"]["total"] == 1
    assert "Salah kirim" not in outputs[2] and "Email massal memuat" in outputs[2]
    assert json.loads(outputs[4]) == {"email": 1, "whatsapp": 0, "unreachable": 0, "remaining": 0}
    owner_try = runner.invoke(
        cli_app,
        ["approve", "klinik-contoh", "BR-0001", "subjects", "--dpo", clinic.owner_email],
        env=env,
    )
    assert owner_try.exit_code != 0
    listed = runner.invoke(cli_app, ["list", "klinik-contoh", "--json"], env=env)
    assert json.loads(listed.output)[0]["status"] == "closed"
    pack_file = tmp_path / "pack.zip"
    packed = runner.invoke(
        cli_app, ["evidence-pack", "klinik-contoh", "BR-0001", "--out", str(pack_file)], env=env
    )
    assert packed.exit_code == 0, packed.output
    with zipfile.ZipFile(pack_file) as archive:
        pack = json.loads(archive.read("evidence.json"))
        notice = archive.read("authority-notice.md").decode()
    assert pack["notices"][1]["submission"] == "Surat No. 12/2026"
    assert "Jumlah: 1" in notice and "gita@" not in notice
    exported = runner.invoke(cli_app, ["export-authority", "klinik-contoh", "BR-0001"], env=env)
    assert "Notice of a personal data breach" in exported.output
