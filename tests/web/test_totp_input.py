"""A second-factor code typed with other digits (full-width, Arabic-Indic) is a wrong code, not an
error page: the visitor sees the usual message and the attempt counts towards the lockout."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from privasi.orgs.models import StaffUser


def test_a_code_in_other_digits_is_a_wrong_code(
    app: Any, pages: Any, make_staff: Any, db: Any
) -> None:
    dpo = make_staff("dpo", with_totp=True)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        visitor = type(pages)(client)
        assert visitor.login(dpo).headers["location"] == "/admin/login/totp"
        for typed in ("１２３４５６", "١٢٣٤٥٦", "12345é"):
            answer = visitor.post_form("/admin/login/totp", {"code": typed})
            assert answer.status_code == 401, typed
            assert "kode" in answer.text.lower()
        with db.session(dpo.org_id) as s:
            user = s.scalar(select(StaffUser).where(StaffUser.id == dpo.user_id))
            assert user is not None and user.failed_logins == 3
        ok = visitor.post_form("/admin/login/totp", {"code": dpo.code()})
        assert ok.headers["location"] == "/admin"
