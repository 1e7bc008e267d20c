"""Restoring placeholders: whole texts, JSON arguments, and streams cut at every possible point."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privasi.gateway.placeholders import ConversationMapping, StreamRestorer, json_escape
from privasi.gateway.redact import Redactor, RequestRefused
from privasi.pii import Detector
from privasi.policy.vocab import EntityAction


def _mapping() -> ConversationMapping:
    m = ConversationMapping()
    m.placeholder_for("", "PERSON", "Budi Santoso")
    m.placeholder_for("", "PERSON", "Rina Wijaya")
    m.placeholder_for("", "EMAIL_ADDRESS", 'budi"quote@contoh.co.id')
    return m


def test_same_value_same_placeholder_and_round_trip():
    m = _mapping()
    assert m.placeholder_for("", "PERSON", "budi  santoso") == "<PERSON_1>"
    again = ConversationMapping.from_json(m.to_json())
    assert again.placeholder_for("", "PERSON", "Dewi Lestari") == "<PERSON_3>"
    assert again.value_for("", "<PERSON_2>") == "Rina Wijaya"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Halo <PERSON_1>!", "Halo Budi Santoso!"),
        ("Halo <person_1>!", "Halo Budi Santoso!"),
        ("Halo [PERSON_2] dan {Person_1}", "Halo Rina Wijaya dan Budi Santoso"),
        ("Halo PERSON_2.", "Halo Rina Wijaya."),
        ("Halo <PERSON_2, ok", "Halo Rina Wijaya, ok"),
        ("Halo <PERSON_9> dan <PHONE_NUMBER_1>", "Halo <PERSON_9> dan <PHONE_NUMBER_1>"),
        ("XPERSON_1 stays", "XPERSON_1 stays"),
    ],
)
def test_restore_forgives_case_and_brackets_but_adds_nothing_unknown(answer, expected):
    assert _mapping().restore(answer) == expected


def test_restore_inside_json_arguments_keeps_them_valid():
    m = _mapping()
    arguments = json.dumps({"to": "<EMAIL_ADDRESS_1>", "name": "<PERSON_1>"})
    restored = json.loads(m.restore(arguments, json_escape))
    assert restored == {"to": 'budi"quote@contoh.co.id', "name": "Budi Santoso"}


TEXT = "Hai <PERSON_1>, [person_2] menulis ke <EMAIL_ADDRESS_1> soal PERSON_1 dan <PERSON_12>. <PER"


@given(st.lists(st.integers(min_value=0, max_value=len(TEXT)), max_size=12))
def test_stream_cut_anywhere_gives_the_same_text_as_a_whole_answer(cuts):
    m = _mapping()
    points = sorted(set(cuts))
    pieces = [TEXT[a:b] for a, b in zip([0, *points], [*points, len(TEXT)], strict=True)]
    restorer = StreamRestorer(m)
    out = "".join(restorer.feed(p) for p in pieces) + restorer.finish()
    assert out == m.restore(TEXT)
    assert "Budi Santoso" in out and "<PERSON_12>" in out and out.endswith("<PER")


def test_stream_holds_back_only_what_could_still_be_a_placeholder():
    restorer = StreamRestorer(_mapping())
    assert restorer.feed("Halo ") == "Halo "
    assert restorer.feed("<PERS") == ""
    assert restorer.feed("ON_1") == ""
    assert restorer.feed(">, apa kabar") == "Budi Santoso, apa kabar"
    assert restorer.feed(" <b>tebal</b>") == " <b>tebal</b>"
    assert restorer.feed(" PERSON_2") == " "
    assert restorer.feed(" ok") == "Rina Wijaya ok"
    assert restorer.finish() == ""


def test_stream_with_empty_mapping_passes_text_straight_through():
    restorer = StreamRestorer(ConversationMapping())
    assert restorer.feed("<PERS") == "<PERS"


def _rules(entity_type: str) -> EntityAction:
    return {
        "SECRET": EntityAction.block,
        "PHONE_NUMBER": EntityAction.pass_,
    }.get(entity_type, EntityAction.pseudonymize)


def test_redactor_blocks_before_creating_any_placeholder():
    mapping = ConversationMapping()
    redactor = Redactor(Detector(), _rules, mapping)
    body = {"messages": [{"role": "user", "content": "Saya Budi Santoso, password: Rahasia123!"}]}
    with pytest.raises(RequestRefused) as refused:
        redactor.redact(body)
    assert refused.value.counts == {"SECRET": 1}
    assert mapping.values == {}


def test_redactor_passes_what_the_policy_lets_pass():
    redactor = Redactor(Detector(), _rules, ConversationMapping())
    text = "Nama saya Budi Santoso, telepon kantor 021-5550-1234"
    result = redactor.redact({"messages": [{"role": "user", "content": text}]})
    sent = result.body["messages"][0]["content"]
    assert "Budi Santoso" not in sent and "021-5550-1234" in sent
    assert result.passed["PHONE_NUMBER"] == 1 and result.pseudonymised["PERSON"] == 1


def _sse(delta: dict, finish: str | None = None) -> str:
    chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m"}
    chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return "data: " + json.dumps(chunk)


def _deltas(lines: list[bytes]) -> tuple[str, str]:
    text, arguments = "", ""
    for raw in b"".join(lines).decode().split("\n"):
        if not raw.startswith("data: {"):
            continue
        for choice in json.loads(raw[6:])["choices"]:
            text += choice["delta"].get("content") or ""
            for call in choice["delta"].get("tool_calls") or []:
                arguments += call["function"].get("arguments") or ""
    return text, arguments


def test_sse_text_held_at_the_end_goes_out_before_done():
    from privasi.gateway.stream import SseRestorer

    seen: list[str] = []
    sse = SseRestorer(_mapping(), seen.append)
    out: list[bytes] = []
    for line in [
        _sse({"content": "Halo <PERS"}),
        "",
        _sse({"content": "ON_2"}),
        "",
        "data: [DONE]",
    ]:
        out += sse.line(line)
    text, _ = _deltas(out)
    assert text == "Halo Rina Wijaya"
    assert b"".join(out).decode().rstrip().endswith("data: [DONE]")
    assert "".join(seen) == "Halo <PERSON_2"  # the chat log keeps what the provider wrote


def test_sse_tool_arguments_held_back_go_out_with_the_final_chunk():
    from privasi.gateway.stream import SseRestorer

    sse = SseRestorer(_mapping(), lambda _: None)
    out: list[bytes] = []
    head = {"index": 0, "id": "call_1", "type": "function"}
    out += sse.line(_sse({"tool_calls": [{**head, "function": {"name": "f", "arguments": ""}}]}))
    for piece in ['{"to": "<EMA', "IL_ADDRESS_1", '>", "n": "PERSON_1']:
        out += sse.line(_sse({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    out += sse.line(_sse({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]}))
    out += sse.line(_sse({}, "tool_calls"))
    _, arguments = _deltas(out)
    assert json.loads(arguments) == {"to": 'budi"quote@contoh.co.id', "n": "Budi Santoso"}
