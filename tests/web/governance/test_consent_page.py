"""The consent page: standing counts per purpose, the chart with its table, filters, roles."""

from __future__ import annotations

import re
from typing import Any


def test_counts_and_chart_follow_the_ledger(
    client: Any, sign_in: Any, publish: Any, consent_events: Any
) -> None:
    agent = sign_in("agent")
    publish(agent)
    empty = client.get("/admin/consent?lang=en")
    assert empty.status_code == 200
    assert "No consent has been recorded yet." in empty.text

    consent_events(agent.org_id, "marketing", grants=3, withdrawals=1)
    consent_events(agent.org_id, "analytics", grants=2, channel="email")
    page = client.get("/admin/consent?lang=en")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'data-testid="granted-marketing">2<', html)
    assert re.search(r'data-testid="withdrawn-marketing">1<', html)
    assert re.search(r'data-testid="granted-analytics">2<', html)
    # the purpose's name comes from the policy in effect, in the page language
    assert "Marketing" in html
    assert "In this period: 5 given, 1 withdrawn, 0 expired" in html
    # an inline SVG chart with bars, described for screen readers, and the numbers as a table
    assert '<svg viewBox="0 0 720 240" role="img" aria-labelledby="chart-caption"' in html
    assert html.count('class="bar bar-granted"') == 1  # all today: one bucket
    assert 'class="bar bar-withdrawn"' in html
    assert 'data-testid="consent-series"' in html

    # filtered by channel: only the e-mail events count
    email = client.get("/admin/consent?lang=en&channel=email&days=90").text
    assert "In this period: 2 given, 0 withdrawn, 0 expired" in email
    assert "per week" in email
    # an unknown filter value is ignored rather than trusted
    odd = client.get("/admin/consent?lang=en&channel=<script>&purpose=nope&days=3").text
    assert "In this period: 5 given, 1 withdrawn, 0 expired" in odd
    assert "<script>" not in odd


def test_indonesian_page(client: Any, sign_in: Any, publish: Any, consent_events: Any) -> None:
    agent = sign_in("agent")
    publish(agent)
    consent_events(agent.org_id, "marketing", grants=1)
    html = client.get("/admin/consent?lang=id").text
    assert "Persetujuan yang berlaku saat ini, per tujuan" in html
    assert "Dalam periode ini: 1 diberikan, 0 ditarik, 0 kedaluwarsa" in html


def test_signed_out_goes_to_login(client: Any) -> None:
    r = client.get("/admin/consent", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"


def test_other_organisation_counts_are_not_shown(
    client: Any, sign_in: Any, make_org: Any, publish_example: Any, consent_events: Any
) -> None:
    other = make_org("warung-lain")
    publish_example(other)
    consent_events(other.id, "marketing", grants=4)
    sign_in("auditor")
    html = client.get("/admin/consent?lang=en").text
    assert "No consent has been recorded yet." in html
    assert "granted-marketing" not in html and "No consent events in this period." in html


def test_a_processor_sees_a_hosted_organisation_only_through_its_grant(
    client: Any,
    pages: Any,
    db: Any,
    make_org: Any,
    make_staff: Any,
    publish_example: Any,
    consent_events: Any,
) -> None:
    from privasi.orgs import service as orgs

    controller = make_org("klinik-sehat")
    publish_example(controller)
    consent_events(controller.id, "marketing", grants=2)
    staff = make_staff("dpo", slug="hosting-nusantara", org_role="processor", with_totp=True)
    with db.session(controller.id) as s:
        orgs.create_hosting_grant(
            s,
            processor=orgs.get_org_by_slug(s, "hosting-nusantara"),
            actions=["consent.read", "policy.read"],
            instructions="Support for the consent dashboard only.",
            approved_subprocessors=[],
        )
    pages.full_login(staff)
    home = client.get("/admin/consent?lang=en").text
    assert "No consent has been recorded yet." in home  # its own organisation first
    r = pages.post_form("/admin/switch-org", {"org": "klinik-sehat"}, page="/admin")
    assert r.status_code == 303
    hosted = client.get("/admin/consent?lang=en").text
    assert re.search(r'data-testid="granted-marketing">2<', hosted)
    # what the grant does not list stays closed, whatever the processor's role allows at home
    assert client.get("/admin/api-keys").status_code == 403
    assert client.get("/admin/audit").status_code == 403
