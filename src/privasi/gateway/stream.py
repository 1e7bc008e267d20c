"""Restoring placeholders in an OpenAI event stream (``stream: true``), chunk by chunk."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from privasi.gateway.placeholders import ConversationMapping, StreamRestorer, json_escape


class SseRestorer:
    """Restores placeholders in an OpenAI event stream, chunk by chunk.

    Each choice's text and each tool call's arguments get their own ``StreamRestorer``; what one
    holds back goes out with the next piece of the same field, or with the choice's final chunk.
    """

    def __init__(self, mapping: ConversationMapping, seen: Callable[[str], None]) -> None:
        self.mapping = mapping
        self.seen = seen
        self.texts: dict[int, StreamRestorer] = {}
        self.arguments: dict[tuple[int, int], StreamRestorer] = {}
        self.last: dict[str, Any] | None = None
        self._changed = False

    def line(self, line: str) -> list[bytes]:
        if not line.startswith("data:"):
            return [(line + "\n").encode()] if line else [b"\n"]
        payload = line[5:].strip()
        if payload == "[DONE]":
            return [*self.finish(), b"data: [DONE]\n\n"]
        try:
            chunk = json.loads(payload)
        except ValueError:
            return [(line + "\n").encode()]
        if not isinstance(chunk, dict):
            return [(line + "\n").encode()]
        self.last = chunk
        self._changed = False
        for choice in chunk.get("choices") or []:
            if isinstance(choice, dict):
                self._choice(choice)
        # the blank line that ends the event comes from the provider's own stream
        if not self._changed:
            # most chunks carry no placeholder: the provider's own line goes on unchanged
            return [(line + "\n").encode()]
        return [f"data: {json.dumps(chunk, ensure_ascii=False)}\n".encode()]

    def _choice(self, choice: dict[str, Any]) -> None:
        index = int(choice.get("index") or 0)
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        finished = choice.get("finish_reason") is not None
        text = delta.get("content")
        if isinstance(text, str) or (finished and index in self.texts):
            restorer = self.texts.setdefault(index, StreamRestorer(self.mapping))
            piece = text if isinstance(text, str) else ""
            self.seen(piece)
            out = restorer.feed(piece)
            if finished:
                out += restorer.finish()
            if out != text:
                self._changed = True
            delta["content"] = out
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
                    continue
                key = (index, int(call.get("index") or 0))
                restorer = self.arguments.setdefault(key, StreamRestorer(self.mapping, json_escape))
                self.seen(function["arguments"])
                restored = restorer.feed(function["arguments"])
                if restored != function["arguments"]:
                    self._changed = True
                function["arguments"] = restored
        if finished:
            self._flush_arguments(index, delta)
            self.texts.pop(index, None)

    def _flush_arguments(self, index: int, delta: dict[str, Any]) -> None:
        rests = []
        for key in sorted(k for k in self.arguments if k[0] == index):
            rest = self.arguments.pop(key).finish()
            if rest:
                rests.append({"index": key[1], "function": {"arguments": rest}})
        if rests:
            self._changed = True
            delta["tool_calls"] = [*(delta.get("tool_calls") or []), *rests]

    def finish(self) -> list[bytes]:
        """Whatever is still held back when the stream ends without a final chunk."""
        if self.last is None or not (self.texts or self.arguments):
            return []
        indexes = sorted({*self.texts, *(k[0] for k in self.arguments)})
        choices = []
        for index in indexes:
            delta: dict[str, Any] = {}
            restorer = self.texts.pop(index, None)
            if restorer is not None:
                delta["content"] = restorer.finish()
            self._flush_arguments(index, delta)
            choices.append({"index": index, "delta": delta, "finish_reason": None})
        chunk = {k: v for k, v in self.last.items() if k != "choices"}
        chunk["choices"] = choices
        return [f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()]
