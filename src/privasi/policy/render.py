"""The public privacy notice from the policy: Bahasa Indonesia or English, HTML or Markdown.

``build_notice`` turns the policy into plain localised text blocks; the two templates only lay
them out, so the HTML and Markdown notices can never say different things.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from privasi.policy.catalogue import Phrases
from privasi.policy.law import breach_notice_deadline, effective_deadline
from privasi.policy.schema import Policy, Recipient, RetentionRule
from privasi.policy.vocab import (
    Channel,
    EntityAction,
    PurposeKind,
    RequestType,
    RetentionAction,
    Role,
)

FORMATS = ("html", "md")
_TEMPLATES = {"html": "notice.html", "md": "notice.md"}


@cache
def _env(fmt: str) -> Environment:
    return Environment(
        loader=PackageLoader("privasi.policy", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_notice(
    policy: Policy, lang: str = "id", fmt: str = "html", *, fragment: bool = False
) -> str:
    """The complete notice; ``lang`` is id or en, ``fmt`` is html or md.

    ``fragment=True`` (html only) gives just the ``<article>``, to place inside a site's own page.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' (use html or md)")
    t = Phrases(lang)
    template = _env(fmt).get_template(_TEMPLATES[fmt])
    return template.render(n=build_notice(policy, t), t=t, lang=lang, fragment=fragment)


def build_notice(policy: Policy, t: Phrases) -> dict[str, Any]:
    org = policy.organisation
    name = org.display_name
    return {
        "title": t("meta.title", name=name),
        "effective": t("meta.effective", date=t.date(policy.effective_date)),
        "intro": t("meta.intro", name=name),
        "who": _who(policy, t),
        "categories": [
            {
                "name": c.name.get(t.lang),
                "examples": c.examples.get(t.lang) if c.examples else "",
                "description": c.description.get(t.lang) if c.description else "",
                "sources": t.join([t(f"collect.source.{s.value}") for s in c.sources], "or"),
                "specific": t(
                    "collect.specific", kind=t(f"collect.specific_kind.{c.specific_kind.value}")
                )
                if c.specific_kind
                else "",
            }
            for c in policy.categories
        ],
        "purposes": [_purpose(policy, p, t) for p in policy.purposes],
        "ai": _ai(policy, t),
        "recipients": [_recipient(policy, r, t) for r in policy.recipients],
        "transfers": _transfers(policy, t),
        "cookies": _cookies(policy, t),
        "security": _security(policy, t),
        "rights": _rights(policy, t),
        "retention": [_retention(policy, r, t) for r in policy.retention.rules],
        "backups": _backups(policy, t),
        "children": t(
            "children.guardian" if policy.minors.guardian_consent else "children.refuse",
            age=policy.minors.minimum_age,
            contact=policy.rights_contact(),
        ),
        "changes": [
            t(
                "changes.text",
                channels=t.join(
                    [t(f"changes.channel.{c.value}") for c in policy.changes.channels], "or"
                ),
            ),
            t("changes.advance", period=t.period(policy.changes.advance_notice))
            if policy.changes.advance_notice
            else "",
            t("changes.date"),
        ],
        "contact": _contact(policy, t),
    }


def _names(t: Phrases, names: list[Any]) -> str:
    """Join names in a sentence: only the first keeps its capital ("Data kontak, data proyek")."""
    texts = [n.get(t.lang) for n in names]
    return t.join([texts[0], *(_lower_first(x) for x in texts[1:])]) if texts else ""


def _lower_first(text: str) -> str:
    # Leave acronyms and brand-like words alone: "IP address", "WhatsApp data".
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def _who(policy: Policy, t: Phrases) -> dict[str, Any]:
    org = policy.organisation
    facts: list[tuple[str, str, str | None]] = [(t("who.legal_name"), org.legal_name, None)]
    if org.brand:
        facts.append((t("who.brand"), org.brand, None))
    if org.address:
        facts.append((t("who.address"), org.address, None))
    if org.website:
        facts.append((t("who.website"), org.website, org.website))
    contact = org.contacts.primary
    href = contact if contact.startswith("http") else f"mailto:{contact}"
    facts.append((t("who.privacy_contact"), contact, href))
    if org.contacts.dpo:
        dpo = org.contacts.dpo
        label = f"{dpo.name} <{dpo.email}>" if dpo.name else dpo.email
        facts.append((t("who.dpo"), label, f"mailto:{dpo.email}"))
    return {
        "text": t(f"who.{org.role.value}", legal=org.legal_name, brand=org.display_name),
        "description": org.description.get(t.lang) if org.description else "",
        "facts": facts,
        "laws": t(
            "who.jurisdictions",
            laws=t.join([t(f"who.law.{j.value}") for j in policy.jurisdictions]),
        ),
    }


def _purpose(policy: Policy, p: Any, t: Phrases) -> dict[str, Any]:
    notes = []
    if p.kind is PurposeKind.marketing:
        notes.append(t("purposes.marketing"))
    elif p.kind is PurposeKind.transactional:
        notes.append(t("purposes.transactional"))
    if p.processing_role is Role.processor:
        notes.append(t("purposes.processor"))
    if p.keyword_opt_in:
        notes.append(t("purposes.keyword_opt_in"))
    if p.opt_out_keywords:
        quoted = [f'"{k}"' for k in p.opt_out_keywords]
        notes.append(t("purposes.opt_out", keywords=t.join(quoted, "or")))
    if p.automated_decisions:
        notes.append(t("purposes.automated"))
    if p.withdrawal_consequences:
        notes.append(t("purposes.withdrawal", text=p.withdrawal_consequences.get(t.lang)))
    return {
        "name": p.name.get(t.lang),
        "description": p.description.get(t.lang),
        "basis": t(f"basis.{p.legal_basis.value}"),
        "data": _names(t, [policy.category(c).name for c in p.categories]),
        "channels": t.join([t(f"channel.{c.value}") for c in p.channels]),
        "notes": notes,
    }


def _ai(policy: Policy, t: Phrases) -> dict[str, Any] | None:
    providers = [r for r in policy.recipients if r.ai_provider]
    if not providers:
        return None
    # The notice states one set of rules: the strictest action any provider applies per type.
    strength = {EntityAction.pass_: 0, EntityAction.pseudonymize: 1, EntityAction.block: 2}
    by_type: dict[str, EntityAction] = {}
    for r in providers:
        for entity, action in r.entity_rules.items():
            current = by_type.get(entity)
            if current is None or strength[action] > strength[current]:
                by_type[entity] = action
    grouped: dict[EntityAction, list[str]] = {}
    for entity, action in by_type.items():
        label = t(f"ai.entity.{entity}") if t.has(f"ai.entity.{entity}") else entity
        grouped.setdefault(action, []).append(label)
    rules = [
        t("ai.rule", entities=t.join(names), action=t(f"ai.action.{action.value}"))
        for action, names in sorted(grouped.items(), key=lambda kv: -strength[kv[0]])
    ]
    defaults = {r.default_entity_action for r in providers if r.default_entity_action}
    if defaults:
        loosest = min(defaults, key=lambda a: strength[a])
        rules.append(t("ai.other", action=t(f"ai.action.{loosest.value}")))
    return {
        "intro": t("ai.intro", providers=t.join([r.display(t.lang) for r in providers])),
        "rules": rules,
        "no_training": t("ai.no_training") if not any(r.trains_on_data for r in providers) else "",
        "advice": t("ai.advice"),
    }


def _safeguard(r: Recipient, t: Phrases) -> str:
    if not r.abroad:
        return t("safeguard.domestic")
    if r.transfer_safeguard is None:
        return t("safeguard.legal_request")
    text = t(f"safeguard.{r.transfer_safeguard.value}")
    if r.safeguard_mechanisms:
        mechanisms = [t(f"safeguard.mechanism.{m.value}") for m in r.safeguard_mechanisms]
        text += ", " + t("safeguard.mechanisms", list=t.join(mechanisms))
    return text


def _recipient(policy: Policy, r: Recipient, t: Phrases) -> dict[str, Any]:
    categories = r.categories or list(
        dict.fromkeys(c for p in r.purposes for c in policy.purpose(p).categories)
    )
    notes = []
    if r.aggregate_only:
        notes.append(t("recipients.aggregate_only"))
    if r.certifications:
        notes.append(t("recipients.certifications", list=t.join(r.certifications)))
    return {
        "name": r.display(t.lang),
        "role": t(f"recipients.role.{r.role.value}"),
        "description": r.description.get(t.lang) if r.description else "",
        "where": t.join([t.country(c) for c in r.countries]),
        "safeguard": _safeguard(r, t),
        "purposes": _names(t, [policy.purpose(p).name for p in r.purposes]),
        "data": _names(t, [policy.category(c).name for c in categories]),
        "notes": notes,
    }


def _transfers(policy: Policy, t: Phrases) -> list[str]:
    abroad = list(dict.fromkeys(c for r in policy.recipients for c in r.abroad))
    if not abroad:
        return [t("transfers.none")]
    names = t.join([t.country(c, in_sentence=True) for c in abroad])
    return [t("transfers.intro", countries=names), t("transfers.rule")]


def _cookies(policy: Policy, t: Phrases) -> list[dict[str, Any]]:
    out = []
    for c in policy.cookies:
        key = c.category.value
        tools = []
        for tool in c.tools:
            label = tool.name + (f" ({', '.join(tool.cookies)})" if tool.cookies else "")
            if tool.lifetime:
                label = t("cookies.lifetime", tool=label, period=t.period(tool.lifetime))
            tools.append(label)
        out.append(
            {
                "name": t(f"cookies.category.{key}"),
                "description": c.description.get(t.lang)
                if c.description
                else t(f"cookies.default.{key}"),
                "note": t("cookies.locked") if c.locked else t("cookies.consent"),
                "tools": t("cookies.tools", list=t.join(tools)) if tools else "",
            }
        )
    return out


def _security(policy: Policy, t: Phrases) -> dict[str, Any]:
    measures = [t(f"security.measure.{m.value}") for m in policy.security.measures]
    breach = []
    controls_any = policy.organisation.role is Role.controller or any(
        p.processing_role is Role.controller for p in policy.purposes
    )
    if controls_any:
        period = t.period(breach_notice_deadline(policy))
        breach.append(t("security.breach_controller", period=period))
    if policy.breach.notify_business_users:
        breach.append(t("security.breach_processor"))
    return {
        "intro": t("security.intro"),
        "measures": measures,
        "details": policy.security.details.get(t.lang) if policy.security.details else "",
        "breach": breach,
        "no_guarantee": t("security.no_guarantee"),
    }


def _rights(policy: Policy, t: Phrases) -> dict[str, Any]:
    rights = [
        t(f"rights.right.{k}")
        for k in (
            "access",
            "rectification",
            "erasure",
            "restriction",
            "portability",
            "objection",
            "withdrawal",
            "complaint",
        )
    ]
    contact = policy.rights_contact()
    promise = policy.rights.default_deadline
    table = [
        (t(f"rights.request.{rt.value}"), t.period(effective_deadline(policy, rt)))
        for rt in RequestType
    ]
    return {
        "intro": t("rights.intro"),
        "rights": rights,
        "how": t("rights.how", contact=contact),
        # Only worth a sentence when there is more than the e-mail address just given.
        "channels": t(
            "rights.channels",
            list=t.join([t(f"channel.{c.value}") for c in policy.rights.channels], "or"),
        )
        if set(policy.rights.channels) - {Channel.email}
        else "",
        "verification": t(
            "rights.verification",
            list=t.join([t(f"rights.verify.{v.value}") for v in policy.rights.verification], "or"),
        ),
        "promise": t("rights.promise", period=t.period(promise)) if promise else "",
        "table_intro": t("rights.table_intro"),
        "table": table,
        "clock": t("rights.clock"),
        "route": t("rights.route_to_business_user") if policy.rights.route_to_business_user else "",
    }


def retention_phrase(rule: RetentionRule, t: Phrases) -> str:
    """Plain words for how long: "2 tahun setelah interaksi terakhir Anda dengan kami"."""
    if rule.period.is_zero:
        return t("retention.until", event=t(f"retention.until_event.{rule.start.value}"))
    return t(
        "retention.after",
        period=t.period(rule.period),
        event=t(f"retention.event.{rule.start.value}"),
    )


def _retention(policy: Policy, rule: RetentionRule, t: Phrases) -> dict[str, Any]:
    scope = [policy.category(c).name for c in rule.categories]
    scope += [policy.purpose(p).name for p in rule.purposes if not rule.categories]
    states = [policy.subject_state(s).name.get(t.lang) for s in rule.subject_states]
    label = _names(t, scope) or t.join(states)
    if scope and states:
        label = f"{label} ({t.join(states, 'or')})"
    notes = []
    if rule.unless_states:
        unless = [policy.subject_state(s).name.get(t.lang) for s in rule.unless_states]
        notes.append(t("retention.unless", states=t.join(unless, "or")))
    if rule.minimum:
        notes.append(t("retention.minimum", period=t.period(rule.minimum)))
    if rule.exceptions:
        reasons = [t(f"retention.exception.{e.value}") for e in rule.exceptions]
        notes.append(t("retention.exceptions", list=t.join(reasons, "or")))
    if rule.reason:
        notes.append(t("retention.reason", text=rule.reason.get(t.lang)))
    action = "anonymise" if rule.action is RetentionAction.anonymise else "delete"
    return {
        "scope": label,
        "when": retention_phrase(rule, t),
        "action": t(f"retention.{action}"),
        "notes": notes,
    }


def _backups(policy: Policy, t: Phrases) -> str:
    backups = policy.retention.backups
    if backups is None:
        return ""
    if backups.rotation:
        return t("retention.backups_rotation", period=t.period(backups.rotation))
    return t("retention.backups")


def _contact(policy: Policy, t: Phrases) -> dict[str, Any]:
    contacts = policy.organisation.contacts
    items: list[tuple[str, str, str | None]] = []
    for email in dict.fromkeys(e for e in (contacts.privacy_email, contacts.support_email) if e):
        items.append((t("contact.email"), email, f"mailto:{email}"))
    if contacts.dpo and contacts.dpo.email not in {i[1] for i in items}:
        items.append((t("who.dpo"), contacts.dpo.email, f"mailto:{contacts.dpo.email}"))
    if contacts.contact_url:
        items.append((t("contact.url"), contacts.contact_url, contacts.contact_url))
    if contacts.phone:
        items.append((t("contact.phone"), contacts.phone, None))
    authority = policy.organisation.supervisory_authority
    complaint = authority.complaint.get(t.lang) if authority.complaint else ""
    where = [x for x in (authority.url, authority.email, authority.address) if x]
    return {
        "intro": t("contact.intro"),
        "entries": items,
        "authority": t("contact.authority", authority=authority.name.get(t.lang)),
        "authority_where": ", ".join(where),
        "complaint": complaint,
    }
