"""The secrets routes: values go in, never come out; writes are audited; permissions hold."""

from __future__ import annotations

SMTP = "smtp-pass-Rahasia!2026"


def test_put_list_delete(client, make_org) -> None:
    org = make_org("toko-kopi")
    put = client.put("/api/v1/secrets/SMTP_PASSWORD", json={"value": SMTP}, headers=org.headers)
    assert put.status_code == 204 and put.content == b""
    listed = client.get("/api/v1/secrets", headers=org.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [i["name"] for i in items] == ["SMTP_PASSWORD"]
    assert set(items[0]) == {"name", "created_at", "updated_at", "updated_by"}
    assert SMTP not in listed.text
    gone = client.delete("/api/v1/secrets/SMTP_PASSWORD", headers=org.headers)
    assert gone.status_code == 204
    assert client.get("/api/v1/secrets", headers=org.headers).json()["items"] == []
    again = client.delete("/api/v1/secrets/SMTP_PASSWORD", headers=org.headers)
    assert again.status_code == 404
    assert again.headers["content-type"].startswith("application/problem+json")


def test_writes_appear_in_the_audit_trail_by_name(client, make_org) -> None:
    org = make_org("toko-kopi")
    client.put("/api/v1/secrets/WA_APP_SECRET", json={"value": SMTP}, headers=org.headers)
    trail = client.get("/api/v1/audit?action=secret.*", headers=org.headers).json()["items"]
    assert [(e["action"], e["details"]["name"]) for e in trail] == [("secret.set", "WA_APP_SECRET")]
    assert trail[0]["actor"].startswith("api_key:")
    assert SMTP not in str(trail)


def test_needs_secrets_manage(client, make_org) -> None:
    org = make_org("toko-kopi", scopes=["audit.read", "org.read"])
    assert client.get("/api/v1/secrets", headers=org.headers).status_code == 403
    put = client.put("/api/v1/secrets/X", json={"value": "v"}, headers=org.headers)
    assert put.status_code == 403
    assert client.delete("/api/v1/secrets/X", headers=org.headers).status_code == 403
    assert client.get("/api/v1/secrets").status_code == 401


def test_other_organisations_secrets_are_invisible(client, make_org) -> None:
    toko, klinik = make_org("toko-kopi"), make_org("klinik-sehat")
    client.put("/api/v1/secrets/DB_URL", json={"value": "postgresql://x"}, headers=toko.headers)
    assert client.get("/api/v1/secrets", headers=klinik.headers).json()["items"] == []
    assert client.delete("/api/v1/secrets/DB_URL", headers=klinik.headers).status_code == 404


def test_bad_input_is_refused_without_echo(client, make_org) -> None:
    org = make_org("toko-kopi")
    bad_name = client.put("/api/v1/secrets/bad name!", json={"value": SMTP}, headers=org.headers)
    assert bad_name.status_code == 422 and SMTP not in bad_name.text
    empty = client.put("/api/v1/secrets/OK", json={"value": ""}, headers=org.headers)
    assert empty.status_code == 422


def test_openapi_never_describes_a_secret_value_in_a_response(client) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert "value" in schemas["SecretIn"]["properties"]
    assert "value" not in schemas["SecretOut"]["properties"]
    assert set(spec["paths"]["/api/v1/secrets/{name}"]) == {"put", "delete"}
