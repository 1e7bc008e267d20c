"""JSON logs that never carry personal data.

Every record passes through ``PIIFilter`` before it is formatted: message, arguments and extra fields
are redacted with the PII engine (``privasi.pii.redact_for_log``) when it is installed, and with the
e-mail and phone patterns below otherwise.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "privasi_request_id", default=None
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?(?:\d[\s().-]?){8,14}\d(?!\w)")

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn adds a copy of the message with terminal colours
}


def _fallback_redact(text: str) -> str:
    return _PHONE.sub("<PHONE_NUMBER>", _EMAIL.sub("<EMAIL_ADDRESS>", text))


def _load_redactor() -> Callable[[str], str]:
    try:
        from privasi.pii import redact_for_log
    except ImportError:
        return _fallback_redact
    return redact_for_log


class PIIFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.redact = _load_redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not drop the record or leak its args
            message = str(record.msg)
        record.msg = self.redact(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            # Exception type and location only: exception messages may quote input values.
            exc_type = record.exc_info[0]
            entry["error"] = exc_type.__name__ if exc_type else "Exception"
            tb = record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            if tb is not None:
                entry["where"] = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter())
    handler.addFilter(PIIFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_privasi", False):
            root.removeHandler(existing)
    handler._privasi = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # uvicorn's access log prints raw paths and query strings; ours logs route templates instead.
    logging.getLogger("uvicorn.access").disabled = True
