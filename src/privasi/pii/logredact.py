"""Redaction for log lines: every detected value becomes `<TYPE>`."""

from __future__ import annotations

from functools import lru_cache

from .engine import Detector

# Logs favour hiding too much over leaking: a lower threshold than the default.
_LOG_THRESHOLD = 0.45


@lru_cache(maxsize=1)
def _detector() -> Detector:
    return Detector(threshold=_LOG_THRESHOLD)


def redact_for_log(text: str) -> str:
    """Replace every detected value with `<TYPE>`. Never raises: on any internal error
    the whole text is replaced, since a log line must not carry what we failed to scan."""
    try:
        if not isinstance(text, str):
            text = str(text)
        if not text:
            return text
        findings = _detector().detect(text)
        if not findings:
            return text
        parts = []
        pos = 0
        for f in findings:
            parts.append(text[pos : f.start])
            parts.append(f"<{f.entity_type}>")
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)
    except Exception:
        return "<UNSCANNED>"
