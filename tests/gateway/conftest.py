"""Fixtures of the gateway tests: a fake provider, and an organisation whose gateway points at it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest
from tests.gateway.fake_upstream import FakeUpstream, serve

from privasi.db import Database
from privasi.gateway import service
from privasi.orgs.service import system_principal


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with serve(FakeUpstream()) as fake:
        yield fake


@dataclass
class Gateway:
    url: str
    org: Any
    db: Database
    upstream: FakeUpstream

    def client(self, token: str | None = None, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("max_retries", 0)
        return openai.OpenAI(base_url=self.url + "/v1", api_key=token or self.org.token, **kwargs)

    def async_client(self, token: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=self.url + "/v1", api_key=token or self.org.token, max_retries=0
        )

    def configure(self, **kwargs: Any) -> None:
        values: dict[str, Any] = {
            "base_url": self.upstream.url,
            "api_key": "sk-upstream-test-key",
            "recipient_id": "groq",
        }
        values.update(kwargs)
        with self.db.session(self.org.id) as s:
            service.configure(s, system_principal(self.org.id), **values)


@pytest.fixture
def gateway(
    live_server: str, db: Database, make_org: Any, publish_example: Any, upstream: FakeUpstream
) -> Gateway:
    org = make_org("acme")
    publish_example(org)
    gw = Gateway(live_server, org, db, upstream)
    gw.configure()
    return gw
