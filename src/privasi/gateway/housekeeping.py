"""The worker ends what the policy's chat retention ends: conversation mappings and chat logs.

Destroying a conversation's sealed mapping makes its placeholders impossible to link back to the
values, so a chat log outliving it would already be anonymous; the log is deleted at the same time
all the same. Rate-limit windows older than an hour are no longer read and go too.
"""

from __future__ import annotations

from privasi.db import PrivasiSession
from privasi.gateway import service
from privasi.worker import reconciler


@reconciler("gateway-retention")
def purge(system: PrivasiSession) -> int:
    return service.purge_expired(system)
