"""The cookie banner's settings and the recording of a visitor's choice.

Categories come from the policy in effect (``cookies``); each non-essential category is a consent
purpose ``cookie:<category>`` in the ledger, so a choice is evidence like any other consent and
the check API answers for it. Visitors are data subjects of identifier kind ``visitor``: a random
id the banner keeps in the browser, which names nobody.

Global Privacy Control (``Sec-GPC: 1`` or ``navigator.globalPrivacyControl``) keeps analytics and
advertising off whatever the buttons say, and the record states that the signal decided it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from privasi.consent import service as consent
from privasi.consent.models import ConsentEvent
from privasi.db import PrivasiSession, utcnow
from privasi.errors import RateLimited, ValidationFailed
from privasi.orgs.service import Principal
from privasi.policy.catalogue import Phrases
from privasi.policy.schema import Policy
from privasi.subjects import service as subjects
from privasi.web.i18n import LANGUAGES, t

GPC_OFF = ("analytics", "advertising")
# The choice endpoint is public: anyone can post choices under new visitor ids. Recorded choices
# per network (/24 or /48, as stored) and hour are capped so it cannot be used to fill the ledger;
# a large office behind one address stays far below this.
CHOICES_PER_HOUR = 600
METHODS = {"accept_all": "button", "reject_all": "button", "choose": "checkbox", "gpc": "gpc"}
TEXT_KEYS = (
    "title",
    "body",
    "gpc",
    "gpc_off",
    "locked",
    "categories",
    "accept",
    "reject",
    "choose",
    "save",
    "reopen",
    "notice",
)
# The JavaScript names a few keys differently (short names keep the script small).
JS_NAMES = {"gpc_off": "gpcOff"}


@cache
def _asset(name: str) -> str:
    return resources.files("privasi.consent.banner").joinpath(name).read_text("utf-8")


def revision(policy: Policy) -> str:
    """Changes whenever the categories or their tools change, so the banner asks again."""
    shape = [
        [
            c.category.value,
            c.locked,
            sorted(f"{tool.name}|{tool.recipient or ''}" for tool in c.tools),
        ]
        for c in sorted(policy.cookies, key=lambda c: c.category.value)
    ]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def _texts(lang: str) -> dict[str, str]:
    return {JS_NAMES.get(k, k): t(f"consent_banner.{k}", lang) for k in TEXT_KEYS}


def category_text(policy: Policy, category: str, lang: str) -> tuple[str, str]:
    phrases = Phrases(lang)
    cookie = policy.cookie(category)
    described = cookie.description.get(lang) if cookie and cookie.description else None
    return (
        phrases(f"cookies.category.{category}"),
        described or phrases(f"cookies.default.{category}"),
    )


def config(policy: Policy, *, org_slug: str, base_url: str, gpc: bool) -> dict[str, Any]:
    default = policy.languages[0].value if policy.languages else "id"
    categories = []
    for cookie in policy.cookies:
        names = {lang: category_text(policy, cookie.category.value, lang) for lang in LANGUAGES}
        categories.append(
            {
                "id": cookie.category.value,
                "locked": cookie.locked,
                "name": {lang: names[lang][0] for lang in LANGUAGES},
                "description": {lang: names[lang][1] for lang in LANGUAGES},
            }
        )
    return {
        "org": org_slug,
        "endpoint": f"{base_url}/consent/{org_slug}/choice",
        "notice": f"{base_url}/privacy/{org_slug}",
        "rev": revision(policy),
        "lang": default if default in LANGUAGES else "id",
        "gpc": gpc,
        "gpcOff": list(GPC_OFF),
        "categories": categories,
        "text": {lang: _texts(lang) for lang in LANGUAGES},
        "css": _asset("banner.css").strip(),
    }


def script(settings: dict[str, Any]) -> str:
    # "</" is escaped so a policy text can never close a <script> element the file is inlined in.
    payload = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return _asset("banner.js").replace("/*CONFIG*/ null", payload, 1)


@dataclass(frozen=True)
class Choice:
    visitor: str
    choices: dict[str, bool]
    method: str
    lang: str
    gpc: bool
    page: str | None


def parse_choice(raw: bytes, *, gpc_header: bool) -> Choice:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("the body must be JSON") from None
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    visitor, choices, method = data.get("visitor"), data.get("choices"), data.get("method")
    if not isinstance(visitor, str):
        raise ValidationFailed("visitor is required", field="visitor")
    if not isinstance(choices, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in choices.items()
    ):
        raise ValidationFailed("choices maps categories to true or false", field="choices")
    if method not in METHODS:
        raise ValidationFailed(f"method is one of {', '.join(METHODS)}", field="method")
    lang = data.get("lang") if data.get("lang") in LANGUAGES else LANGUAGES[0]
    page = data.get("page")
    return Choice(
        visitor=visitor,
        choices=choices,
        method=method,
        lang=str(lang),
        gpc=gpc_header or data.get("gpc") is True,
        page=_page(page) if isinstance(page, str) else None,
    )


def _page(url: str) -> str | None:
    # Scheme, host and path only: query strings and fragments often carry personal data.
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:500]


def _shown(policy: Policy, category: str, lang: str, gpc: bool) -> str:
    name, description = category_text(policy, category, lang)
    lines = [t("consent_banner.title", lang), t("consent_banner.body", lang)]
    if gpc:
        lines.append(t("consent_banner.gpc", lang))
    lines.append(f"{name}: {description}")
    return "\n".join(lines)


def _check_rate(session: PrivasiSession, client_addr: str | None) -> None:
    if client_addr is None:
        return
    since = utcnow() - timedelta(hours=1)
    recorded = session.scalar(
        select(func.count())
        .select_from(ConsentEvent)
        .where(
            ConsentEvent.client_addr == client_addr,
            ConsentEvent.channel == "web",
            ConsentEvent.occurred_at >= since,
        )
    )
    if (recorded or 0) >= CHOICES_PER_HOUR:
        raise RateLimited(
            "too many cookie choices from this network; try again later", retry_after=600
        )


def record(
    session: PrivasiSession,
    principal: Principal,
    policy: Policy,
    version: int,
    choice: Choice,
    *,
    user_agent: str | None,
    client_addr: str | None,
) -> dict[str, bool]:
    """Record the choice per category (only what changed) and return what is now allowed."""
    _check_rate(session, client_addr)
    kinds = {k.id for k in policy.subjects}
    subject = subjects.find_or_create(
        session,
        principal,
        {"visitor": choice.visitor},
        kind="visitor" if "visitor" in kinds else None,
    )
    result: dict[str, bool] = {}
    for cookie in policy.cookies:
        category = cookie.category.value
        if cookie.locked:
            result[category] = True
            continue
        by_gpc = choice.gpc and category in GPC_OFF
        wanted = bool(choice.choices.get(category)) and not by_gpc
        result[category] = wanted
        purpose = consent.cookie_purpose(category)
        now = consent.check(session, [subject.id], purpose)[0]
        # Only changes are recorded; a first refusal is one too, so "reject all" leaves evidence.
        if now.allowed if wanted else now.reason == "withdrawn":
            continue
        proof = consent.Proof(
            policy_version=version,
            text=_shown(policy, category, choice.lang, choice.gpc),
            language=choice.lang,
            channel="web",
            method="gpc" if by_gpc else METHODS[choice.method],
            source=choice.page or "cookie-banner",
            user_agent=user_agent,
            client_addr=client_addr,
        )
        if wanted:
            consent.grant(session, principal, subject, purpose, proof)
        else:
            consent.withdraw(session, principal, subject, purpose, proof)
    return result
