"""A local OpenAI-compatible provider for the gateway's tests (and bench/gateway.py).

It records the raw bytes of every request it receives, and answers by echoing the last user
message, so whatever placeholder the gateway sent comes back in the answer. Tests change how it
answers: split the stream into small pieces, change the case of placeholders, fail, or stall.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

PLACEHOLDER = re.compile(r"<([A-Z_]+)_(\d+)>")


def last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class FakeUpstream:
    def __init__(self) -> None:
        self.requests: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.chunk_size = 4
        self.transform: Callable[[str], str] = lambda text: text
        self.fail_status: int | None = None
        self.delay = 0.0
        self.break_stream = False
        self.url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
            ]
        )

    @property
    def raw(self) -> bytes:
        return b"\n".join(self.requests)

    def reply_text(self, body: dict[str, Any]) -> str:
        return self.transform("Echo: " + last_user_text(body))

    def tool_arguments(self, body: dict[str, Any]) -> str:
        return self.transform(json.dumps({"note": last_user_text(body)}, ensure_ascii=False))

    async def models(self, request: Request) -> Response:
        self.headers.append(dict(request.headers))
        return JSONResponse(
            {"object": "list", "data": [{"id": "fake-model", "object": "model", "owned_by": "t"}]}
        )

    async def completions(self, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(raw)
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            return JSONResponse(
                {"error": {"message": "fake failure", "type": "server_error", "code": "boom"}},
                status_code=self.fail_status,
            )
        body = json.loads(raw)
        tools = body.get("tools")
        if body.get("stream"):
            return StreamingResponse(self._stream(body, tools), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": self.reply_text(body)}
        finish = "stop"
        if tools:
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": tools[0]["function"]["name"],
                        "arguments": self.tool_arguments(body),
                    },
                }
            ]
            finish = "tool_calls"
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake-model"),
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def _chunk(self, body: dict[str, Any], delta: dict[str, Any], finish: str | None) -> bytes:
        chunk = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()

    async def _stream(self, body: dict[str, Any], tools: Any) -> Any:
        size = self.chunk_size
        yield self._chunk(body, {"role": "assistant", "content": ""}, None)
        text = self.reply_text(body)
        for i in range(0, len(text), size):
            yield self._chunk(body, {"content": text[i : i + size]}, None)
            if self.break_stream and i > len(text) // 2:
                raise RuntimeError("the fake provider drops the connection")
        finish = "stop"
        if tools:
            arguments = self.tool_arguments(body)
            head = {"index": 0, "id": "call_1", "type": "function"}
            name = tools[0]["function"]["name"]
            yield self._chunk(
                body, {"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]}, None
            )
            for i in range(0, len(arguments), size):
                piece = {"index": 0, "function": {"arguments": arguments[i : i + size]}}
                yield self._chunk(body, {"tool_calls": [piece]}, None)
            finish = "tool_calls"
        yield self._chunk(body, {}, finish)
        yield b"data: [DONE]\n\n"


@contextmanager
def serve(fake: FakeUpstream, port: int = 0) -> Iterator[FakeUpstream]:
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="error", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="fake-upstream", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake upstream did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{bound}/v1"
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)
