"""Stream chunks without a placeholder go on exactly as the provider sent them."""

from __future__ import annotations

import json

from privasi.gateway.placeholders import ConversationMapping
from privasi.gateway.stream import SseRestorer


def _chunk(text: str, finish: str | None = None) -> str:
    delta = {"content": text}
    body = {"id": "c1", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    # a provider's own spacing, which re-encoding would change
    return "data: " + json.dumps(body, separators=(", ", ": "))


def test_plain_chunks_pass_byte_for_byte_and_placeholders_are_restored() -> None:
    mapping = ConversationMapping()
    placeholder = mapping.placeholder_for("", "PERSON", "Sari Wulandari")
    seen: list[str] = []
    sse = SseRestorer(mapping, seen.append)
    plain = _chunk("Terima kasih, ")
    assert sse.line(plain) == [(plain + "\n").encode()]
    half = len(placeholder) // 2
    held = sse.line(_chunk(placeholder[:half]))
    assert json.loads(held[0][6:])["choices"][0]["delta"]["content"] == ""
    done = sse.line(_chunk(placeholder[half:] + "!", finish="stop"))
    assert json.loads(done[0][6:])["choices"][0]["delta"]["content"] == "Sari Wulandari!"
    assert "".join(seen) == "Terima kasih, " + placeholder + "!"
