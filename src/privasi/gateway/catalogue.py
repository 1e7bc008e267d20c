"""The provider's model list (``GET /v1/models``), passed through as the provider sent it."""

from __future__ import annotations

import asyncio

import httpx

from privasi.config import Settings
from privasi.db import Database
from privasi.gateway import service, upstream
from privasi.orgs.principal import Principal
from privasi.vault.core import Vault


async def list_models(
    db: Database, settings: Settings, vault: Vault, principal: Principal
) -> bytes:
    """The provider's model list as it sent it (it holds no personal data)."""

    def resolve() -> service.UpstreamConfig:
        with db.session(principal.org_id) as session:
            config = service.upstream_config(session, vault=vault)
        if config is None:
            raise upstream.not_configured()
        return config

    config = await asyncio.to_thread(resolve)
    try:
        response = await upstream.client().get(
            config.base_url + "/models",
            headers=upstream.headers_for(config.key),
            timeout=upstream.timeout_for(settings.gateway_upstream_timeout_seconds),
        )
    except httpx.HTTPError as exc:
        raise upstream.transport_error(exc) from None
    if response.status_code >= 400:
        raise upstream.upstream_error(response.status_code, response.content, response.headers)
    return response.content
