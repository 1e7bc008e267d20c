"""Bilingual message templates (``messages.yaml``): validation of parameters and rendering.

Rendering is strict: a required parameter left out is an error at ``enqueue`` time, in the caller's
transaction, instead of a message that fails (or goes out half empty) later in the worker.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from jinja2 import Environment, StrictUndefined, TemplateError, pass_context
from jinja2.runtime import Context

from privasi.errors import ValidationFailed

LANGS = ("id", "en")
DEFAULT_TIME_ZONE = "Asia/Jakarta"
MONTHS = {
    "id": "Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember",
    "en": "January February March April May June July August September October November December",
}
AT = {"id": "pukul", "en": "at"}
# A sentence's closing punctuation is not part of the link.
URL_RE = re.compile(r"https?://[^\s<>\"')]*[^\s<>\"').,;:!?]")


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    whatsapp: str = ""  # the shorter body for WhatsApp text messages


@dataclass(frozen=True)
class WhatsAppTemplate:
    name: str
    parameters: list[str]
    copy_code_button: bool = False  # authentication templates: the code goes to the button too


@dataclass(frozen=True)
class MessageTemplate:
    name: str
    description: str
    required: list[str]
    optional: list[str]
    bodies: dict[str, dict[str, str]]  # lang -> subject/text/whatsapp
    whatsapp_template: WhatsAppTemplate | None = None
    params: list[str] = field(default_factory=list)


@pass_context
def _longdate(context: Context, value: Any) -> str:
    """A date (or time) the way people write it: "1 Mei 2026", "1 May 2026 at 14.05 WIB"."""
    lang = context.get("lang") or LANGS[0]
    zone = ZoneInfo(context.get("time_zone") or DEFAULT_TIME_ZONE)
    moment: date | datetime
    if isinstance(value, datetime | date):
        moment = value
    else:
        text = str(value)
        moment = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    months = MONTHS.get(lang, MONTHS["en"]).split()
    if isinstance(moment, datetime):
        if moment.tzinfo is not None:
            moment = moment.astimezone(zone)
        day = f"{moment.day} {months[moment.month - 1]} {moment.year}"
        clock = f"{moment.hour:02d}.{moment.minute:02d}"
        suffix = f" {moment.tzname()}" if moment.tzinfo is not None else ""
        return f"{day} {AT.get(lang, 'at')} {clock}{suffix}"
    return f"{moment.day} {months[moment.month - 1]} {moment.year}"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text: no autoescaping here; the HTML part escapes the rendered text itself.
    env = Environment(
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701
    )
    env.filters["longdate"] = _longdate
    return env


@lru_cache(maxsize=1)
def catalogue() -> dict[str, MessageTemplate]:
    raw = yaml.safe_load(resources.files("privasi.notify").joinpath("messages.yaml").read_text())
    out: dict[str, MessageTemplate] = {}
    for name, spec in raw.items():
        wa = spec.get("whatsapp_template")
        out[name] = MessageTemplate(
            name=name,
            description=spec["description"],
            required=list(spec.get("required", [])),
            optional=list(spec.get("optional", [])),
            bodies={lang: dict(spec[lang]) for lang in LANGS},
            whatsapp_template=(
                WhatsAppTemplate(
                    wa["name"], list(wa["parameters"]), bool(wa.get("copy_code_button"))
                )
                if wa
                else None
            ),
        )
    return out


def get_template(name: str) -> MessageTemplate:
    try:
        return catalogue()[name]
    except KeyError:
        known = ", ".join(sorted(catalogue()))
        raise ValidationFailed(
            f"unknown message template '{name}'; known: {known}", field="template"
        ) from None


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise ValidationFailed("lang must be 'id' or 'en'", field="lang")
    return lang


def context_for(template: MessageTemplate, lang: str, params: dict[str, Any]) -> dict[str, Any]:
    """The rendering context: every optional parameter present (None when not given)."""
    missing = [p for p in ["org_name", *template.required] if params.get(p) in (None, "")]
    if missing:
        # Parameter names only: the values may be personal data.
        raise ValidationFailed(
            f"template '{template.name}' needs the parameter(s): {', '.join(missing)}",
            field="params",
        )
    known = {"org_name", "time_zone", *template.required, *template.optional}
    unknown = sorted(set(params) - known - {"unsubscribe_url"})
    if unknown:
        raise ValidationFailed(
            f"template '{template.name}' takes no parameter(s): {', '.join(unknown)}",
            field="params",
        )
    context: dict[str, Any] = {name: None for name in template.optional}
    context.update(params)
    context["lang"] = lang
    context.setdefault("time_zone", DEFAULT_TIME_ZONE)
    return context


def _tidy(text: str) -> str:
    # Conditional blocks leave runs of blank lines behind; paragraphs are separated by one.
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _html(subject: str, text: str, lang: str) -> str:
    """The HTML part: the same words as the text part, paragraphs and lists, links clickable."""
    blocks: list[str] = []
    for para in text.strip().split("\n\n"):
        # A paragraph may run into a list ("the changes concern:" followed by "- ..." lines).
        run: list[str] = []
        bullet_run = False
        for line in [*para.splitlines(), None]:
            is_bullet = line is not None and line.startswith("- ")
            if run and (line is None or is_bullet != bullet_run):
                if bullet_run:
                    blocks.append("<ul>" + "".join(f"<li>{item}</li>" for item in run) + "</ul>")
                else:
                    blocks.append("<p>" + "<br>\n".join(run) + "</p>")
                run = []
            if line is not None:
                bullet_run = is_bullet
                run.append(_inline(line[2:] if is_bullet else line))
    body = "\n".join(blocks)
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html.escape(subject)}</title></head>\n"
        '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;'
        f'color:#1f2933;max-width:600px;margin:0 auto;padding:16px">\n{body}\n</body></html>\n'
    )


def _inline(line: str) -> str:
    out, last = [], 0
    for match in URL_RE.finditer(line):
        out.append(html.escape(line[last : match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(line[last:]))
    return "".join(out)


def render(template: str, lang: str, params: dict[str, Any]) -> RenderedMessage:
    """Render a message in ``lang`` (id or en); raises ValidationFailed on missing parameters."""
    spec = get_template(template)
    check_lang(lang)
    context = context_for(spec, lang, params)
    env = _environment()
    bodies = spec.bodies[lang]
    try:
        subject = " ".join(env.from_string(bodies["subject"]).render(context).split())
        text = _tidy(env.from_string(bodies["text"]).render(context))
        short = bodies.get("whatsapp")
        whatsapp = _tidy(env.from_string(short).render(context)) if short else text
    except (TemplateError, ValueError, TypeError) as exc:
        # The error's type only: its message can quote a parameter's value.
        raise ValidationFailed(
            f"template '{template}' could not be rendered with these parameters "
            f"({type(exc).__name__})",
            field="params",
        ) from None
    return RenderedMessage(subject, text, _html(subject, text, lang), whatsapp.strip())


def whatsapp_parameters(template: str, lang: str, params: dict[str, Any]) -> list[str]:
    """The ordered text parameters of the registered WhatsApp template, rendered as in the body."""
    spec = get_template(template)
    assert spec.whatsapp_template is not None
    context = context_for(spec, lang, params)
    env = _environment()
    values = []
    for name in spec.whatsapp_template.parameters:
        value = context.get(name)
        if name.endswith("date") and value is not None:
            value = env.from_string("{{ v | longdate }}").render({**context, "v": value})
        values.append(str(value if value is not None else ""))
    return values
