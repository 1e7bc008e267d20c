"""The three ways out: e-mail (SMTP, or a local maildir by default), the WhatsApp Cloud API and
signed webhooks. Each takes a fully resolved ``Outgoing`` and returns the provider's message id or
raises ``DeliveryError`` with a short code that holds no personal data (servers' own error texts
can quote the address, so they are never kept).
"""

from __future__ import annotations

import ipaddress
import json
import mailbox
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

import privasi
from privasi.notify import signing
from privasi.notify.templates import RenderedMessage

SMTP_TIMEOUT = 30.0
HTTP_TIMEOUT = 20.0
USER_AGENT = f"privasi/{privasi.__version__}"


class DeliveryError(Exception):
    """A failed attempt. ``permanent``: retrying cannot help (a refused address, a bad request)."""

    def __init__(self, code: str, *, permanent: bool = False) -> None:
        super().__init__(code)
        self.code = code[:200]
        self.permanent = permanent


@dataclass
class Outgoing:
    message_id: str
    org_id: str
    org_name: str
    channel: str
    template: str
    lang: str
    to: str
    params: dict[str, Any]
    rendered: RenderedMessage
    created_at: datetime
    subject_id: str | None = None
    reply_to: str | None = None
    # Secrets the channel needs, read from the organisation's store just before sending.
    credentials: dict[str, str] = field(default_factory=dict)


# --- e-mail --------------------------------------------------------------------------------------


def build_email(out: Outgoing, mail_from: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((out.org_name, mail_from))
    msg["To"] = out.to
    msg["Subject"] = out.rendered.subject
    msg["Date"] = format_datetime(out.created_at)
    domain = mail_from.rpartition("@")[2] or "privasi.invalid"
    # Stable per message: a receiver can recognise a copy sent again after a lost confirmation.
    msg["Message-ID"] = f"<outbox-{out.message_id}@{domain}>"
    # Automatic notices (RFC 3834): no auto-replies or vacation messages back to us.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Privasi-Message"] = out.message_id
    msg["X-Privasi-Template"] = out.template
    if out.reply_to:
        msg["Reply-To"] = out.reply_to
    unsubscribe = out.params.get("unsubscribe_url")
    if isinstance(unsubscribe, str) and unsubscribe.startswith("https://"):
        # RFC 8058 one-click unsubscribe: mail providers show an unsubscribe button.
        msg["List-Unsubscribe"] = f"<{unsubscribe}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(out.rendered.text)
    msg.add_alternative(out.rendered.html, subtype="html")
    # After the body: turning the message multipart moves Content-* headers into the first part.
    msg["Content-Language"] = out.lang
    return msg


def check_org_smtp_url(url: str) -> None:
    """An organisation's ``smtp_url`` secret names a mail server only: a ``maildir:`` URL writes
    files wherever it points, so it is the operator's alone (PRIVASI_SMTP_URL). The error names the
    secret, never its value (it may hold a password)."""
    if urlsplit(url.strip()).scheme.lower() not in ("smtp", "smtps"):
        raise DeliveryError("secret smtp_url must be an smtp:// or smtps:// URL", permanent=True)


def send_email(out: Outgoing, *, smtp_url: str, mail_from: str) -> str:
    msg = build_email(out, mail_from)
    parts = urlsplit(smtp_url)
    if parts.scheme == "maildir":
        path = Path(unquote(parts.path))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            box = mailbox.Maildir(path, create=True)
            for sub in ("tmp", "new", "cur"):
                # Maildir only makes these when it creates the folder itself.
                (path / sub).mkdir(mode=0o700, exist_ok=True)
            box.add(msg)
        except OSError as exc:
            raise DeliveryError(f"maildir {type(exc).__name__}") from None
        return str(msg["Message-ID"])
    if parts.scheme not in ("smtp", "smtps"):
        raise DeliveryError("smtp url scheme must be smtp, smtps or maildir", permanent=True)
    _smtp_send(msg, parts, mail_from, out.to)
    return str(msg["Message-ID"])


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smtp_send(msg: EmailMessage, parts: Any, mail_from: str, to: str) -> None:
    host = parts.hostname or "localhost"
    implicit_tls = parts.scheme == "smtps"
    port = parts.port or (465 if implicit_tls else 25)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if implicit_tls:
            client = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if starttls:
                client.starttls(context=context)
                client.ehlo()
            if parts.username:
                if not (implicit_tls or starttls or _loopback(host)):
                    # A password in clear text over the network: refuse rather than leak it.
                    raise DeliveryError("smtp login needs smtps:// or ?starttls=1", permanent=True)
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(msg, from_addr=mail_from, to_addrs=[to])
    except DeliveryError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        code = codes[0] if codes else 550
        raise DeliveryError(f"smtp {code} recipient refused", permanent=code >= 500) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"smtp {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"smtp {type(exc).__name__}") from None


# --- WhatsApp Cloud API --------------------------------------------------------------------------


def whatsapp_body(
    out: Outgoing,
    template_name: str | None,
    parameters: list[str],
    *,
    copy_code_button: bool = False,
) -> dict[str, Any]:
    """A template message when one is registered for this kind (works outside the 24-hour
    window the Cloud API allows for free text), else a text message (replies such as STOP)."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": out.to,
    }
    if template_name:
        components: list[dict[str, Any]] = [
            {"type": "body", "parameters": [{"type": "text", "text": v} for v in parameters]}
        ]
        if copy_code_button and parameters:
            # Authentication templates carry the code in their copy-code button as well.
            components.append(
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": parameters[0]}],
                }
            )
        body["type"] = "template"
        body["template"] = {
            "name": template_name,
            "language": {"code": out.lang},
            "components": components,
        }
    else:
        body["type"] = "text"
        body["text"] = {"preview_url": False, "body": out.rendered.whatsapp}
    return body


def send_whatsapp(
    out: Outgoing,
    *,
    api_base: str,
    template_name: str | None,
    parameters: list[str],
    copy_code_button: bool = False,
) -> str:
    token = out.credentials.get("whatsapp_access_token")
    phone_id = out.credentials.get("whatsapp_phone_number_id")
    if not token or not phone_id:
        raise DeliveryError(
            "missing secret whatsapp_access_token or whatsapp_phone_number_id", permanent=True
        )
    url = f"{api_base.rstrip('/')}/{phone_id.strip()}/messages"
    try:
        response = httpx.post(
            url,
            json=whatsapp_body(out, template_name, parameters, copy_code_button=copy_code_button),
            headers={"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT},
            timeout=HTTP_TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"whatsapp {type(exc).__name__}") from None
    if response.status_code >= 300:
        code = _graph_error_code(response)
        raise DeliveryError(
            f"whatsapp http {response.status_code}" + (f" code {code}" if code else ""),
            permanent=_permanent(response.status_code),
        )
    try:
        return str(response.json()["messages"][0]["id"])[:200]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""


def _graph_error_code(response: httpx.Response) -> str | None:
    # Only the numeric code: the error's message can repeat the phone number.
    try:
        code = response.json().get("error", {}).get("code")
    except (ValueError, AttributeError):
        return None
    return str(code) if isinstance(code, int) else None


def _permanent(status: int) -> bool:
    # Redirects are not followed (a signed request must reach the URL given) and will not change.
    return 300 <= status < 500 and status not in (408, 425, 429)


# --- signed webhooks -----------------------------------------------------------------------------


def webhook_body(out: Outgoing) -> bytes:
    event = {
        "id": out.message_id,
        "type": out.template,
        "lang": out.lang,
        "subject_id": out.subject_id,
        "created_at": out.created_at.isoformat(),
        "data": {k: v for k, v in out.params.items() if k not in ("time_zone",)},
        "message": {"subject": out.rendered.subject, "text": out.rendered.text},
    }
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def send_webhook(out: Outgoing, *, now: float | None = None) -> str:
    secret = out.credentials.get("webhook_signing_secret")
    if not secret:
        raise DeliveryError("missing secret webhook_signing_secret", permanent=True)
    body = webhook_body(out)
    timestamp = int(now if now is not None else time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.MESSAGE_ID_HEADER: out.message_id,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.SIGNATURE_HEADER: signing.sign(secret, timestamp, body),
    }
    try:
        response = httpx.post(
            out.to, content=body, headers=headers, timeout=HTTP_TIMEOUT, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(
            f"webhook http {response.status_code}", permanent=_permanent(response.status_code)
        )
    return out.message_id
