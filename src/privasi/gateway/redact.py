"""Pseudonymise a chat request before it leaves for the provider.

Every piece of text a request carries to the provider is checked: system, user, assistant and tool
messages, text content parts, participant names, tool-call arguments (JSON text: each string in it),
the end-user id and metadata. Parts the detector cannot read (images, audio, files) are refused:
the gateway fails closed rather than forward what it could not check.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from privasi.gateway.detection import Detects
from privasi.gateway.placeholders import ConversationMapping
from privasi.pii import Finding
from privasi.policy.vocab import EntityAction

TEXT_PART_TYPES = frozenset({"text", "input_text"})


class RequestRefused(Exception):
    """The request cannot be forwarded; ``code`` is the OpenAI-style error code."""

    def __init__(self, message: str, code: str, counts: dict[str, int] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.counts = counts or {}


@dataclass
class Redaction:
    """What one request became: its outgoing body and counts per entity type and action."""

    body: dict[str, Any]
    pseudonymised: Counter[str] = field(default_factory=Counter)
    passed: Counter[str] = field(default_factory=Counter)
    blocked: Counter[str] = field(default_factory=Counter)


class Redactor:
    def __init__(
        self,
        detector: Detects,
        action_for: Callable[[str], EntityAction],
        mapping: ConversationMapping,
    ) -> None:
        self.detector = detector
        self.action_for = action_for
        self.mapping = mapping

    def redact(self, body: dict[str, Any]) -> Redaction:
        out = dict(body)
        result = Redaction(out)
        # first pass finds blocked types before any placeholder is created for this request
        texts: list[str] = []
        _collect(body, texts)
        findings = [(t, self.detector.detect(t)) for t in texts]
        for _, found in findings:
            for f in found:
                if self.action_for(f.entity_type) is EntityAction.block:
                    result.blocked[f.entity_type] += 1
        if result.blocked:
            kinds = ", ".join(sorted(result.blocked))
            raise RequestRefused(
                f"the request holds personal data the privacy policy does not allow to be sent "
                f"to this AI provider ({kinds}); nothing was forwarded",
                "personal_data_blocked",
                dict(result.blocked),
            )
        cache = {t: found for t, found in findings}
        replace = lambda text: self._text(text, cache, result)  # noqa: E731
        out["messages"] = [self._message(m, replace) for m in body.get("messages") or []]
        if isinstance(body.get("user"), str):
            out["user"] = replace(body["user"])
        if isinstance(body.get("metadata"), dict):
            out["metadata"] = {
                k: replace(v) if isinstance(v, str) else v for k, v in body["metadata"].items()
            }
        return result

    def _text(self, text: str, cache: dict[str, list[Finding]], result: Redaction) -> str:
        found = cache.get(text)
        if found is None:
            found = self.detector.detect(text)
        if not found:
            return text
        parts: list[str] = []
        pos = 0
        for f in sorted(found, key=lambda f: f.start):
            if f.start < pos:
                continue
            action = self.action_for(f.entity_type)
            if action is EntityAction.pass_:
                result.passed[f.entity_type] += 1
                continue
            parts.append(text[pos : f.start])
            parts.append(self.mapping.placeholder_for("", f.entity_type, text[f.start : f.end]))
            result.pseudonymised[f.entity_type] += 1
            pos = f.end
        parts.append(text[pos:])
        return "".join(parts)

    def _message(self, message: Any, replace: Callable[[str], str]) -> Any:
        if not isinstance(message, dict):
            return message
        out = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            out["content"] = replace(content)
        elif isinstance(content, list):
            out["content"] = [_part(p, replace) for p in content]
        if isinstance(message.get("name"), str):
            # names must stay [A-Za-z0-9_-]: the placeholder goes without its brackets
            out["name"] = replace(message["name"]).replace("<", "").replace(">", "")
        if isinstance(message.get("tool_calls"), list):
            out["tool_calls"] = [_tool_call(c, replace) for c in message["tool_calls"]]
        if isinstance(message.get("function_call"), dict):
            out["function_call"] = _function(message["function_call"], replace)
        return out


def _part(part: Any, replace: Callable[[str], str]) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind in TEXT_PART_TYPES and isinstance(part.get("text"), str):
        return {**part, "text": replace(part["text"])}
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return {**part, "refusal": replace(part["refusal"])}
    raise RequestRefused(
        f"content parts of type '{kind}' cannot be checked for personal data, so the gateway "
        "does not forward them; send text parts only",
        "unsupported_content",
    )


def _tool_call(call: Any, replace: Callable[[str], str]) -> Any:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        return call
    return {**call, "function": _function(call["function"], replace)}


def _function(function: dict[str, Any], replace: Callable[[str], str]) -> dict[str, Any]:
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        return function
    return {**function, "arguments": redact_json_text(arguments, replace)}


def redact_json_text(text: str, replace: Callable[[str], str]) -> str:
    """Tool-call arguments: every string inside the JSON, so escapes never hide a value."""
    try:
        data = json.loads(text)
    except ValueError:
        return replace(text)
    return json.dumps(_walk(data, replace), ensure_ascii=False)


def _walk(value: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, list):
        return [_walk(v, replace) for v in value]
    if isinstance(value, dict):
        return {k: _walk(v, replace) for k, v in value.items()}
    return value


def _collect(body: dict[str, Any], texts: list[str]) -> None:
    """Every text the request would carry, in order (the blocked-types pass reads them all)."""
    collect = texts.append

    def strings(value: Any) -> None:
        if isinstance(value, str):
            collect(value)
        elif isinstance(value, list):
            for v in value:
                strings(v)
        elif isinstance(value, dict):
            for v in value.values():
                strings(v)

    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            collect(content)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    for key in ("text", "refusal"):
                        if isinstance(part.get(key), str):
                            collect(part[key])
        if isinstance(message.get("name"), str):
            collect(message["name"])
        calls = list(message.get("tool_calls") or [])
        if isinstance(message.get("function_call"), dict):
            calls.append({"function": message["function_call"]})
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if isinstance(arguments, str):
                try:
                    strings(json.loads(arguments))
                except ValueError:
                    collect(arguments)
    if isinstance(body.get("user"), str):
        collect(body["user"])
    if isinstance(body.get("metadata"), dict):
        strings(list(body["metadata"].values()))
