"""The stored projection always equals a replay of the ledger: through the service and the API,
with retried requests (Idempotency-Key) and concurrent writers."""

from __future__ import annotations

import itertools
import random
import threading
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from privasi.consent import service as consent
from privasi.consent.models import ConsentEvent, ConsentState
from privasi.orgs import service as orgs
from privasi.subjects import service as subjects

PURPOSES = ["newsletter", "whatsapp_promo", "cookie:analytics"]
_run = itertools.count()


def _replay(events: list[ConsentEvent]) -> dict[tuple[str, str], tuple[str, int, str]]:
    """What the projection must hold: the last event per subject and purpose, by sequence."""
    last: dict[tuple[str, str], ConsentEvent] = {}
    for event in sorted(events, key=lambda e: (e.subject_id, e.purpose, e.seq)):
        last[(event.subject_id, event.purpose)] = event
    return {key: (e.action, e.seq, e.id) for key, e in last.items()}


def _assert_consistent(db, org_id: str, subject_ids: list[str]) -> int:
    with db.session(org_id) as s:
        events = list(
            s.scalars(select(ConsentEvent).where(ConsentEvent.subject_id.in_(subject_ids)))
        )
        states = {
            (st_.subject_id, st_.purpose): (st_.status, st_.seq, st_.event_id)
            for st_ in s.scalars(
                select(ConsentState).where(ConsentState.subject_id.in_(subject_ids))
            )
            if st_.status is not None
        }
        # and the check answers from the projection what the replay says
        replay = _replay(events)
        for (sid, purpose), (action, _, _) in replay.items():
            [decision] = consent.check(s, [sid], purpose)
            assert decision.allowed == (action == "granted")
            assert decision.reason == ("consent" if action == "granted" else action)
    assert states == replay
    per_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for event in events:
        per_pair[(event.subject_id, event.purpose)].append(event.seq)
    for seqs in per_pair.values():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), "gaps or duplicates in the ledger"
    return len(events)


operation = st.tuples(
    st.integers(0, 2),
    st.sampled_from(PURPOSES),
    st.sampled_from(["granted", "withdrawn", "expired", "retry"]),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=20))
def test_projection_equals_replay_with_retries(client, db, toko, ops):
    principal = orgs.system_principal(toko.id, "test")
    run = next(_run)
    with db.session(toko.id) as s:
        ids = [
            subjects.find_or_create(s, principal, {"external": f"run{run}-cust{i}"}).id
            for i in range(3)
        ]
    recorded = 0
    last_request = None
    for n, (who, purpose, action) in enumerate(ops):
        if action == "retry":
            if last_request is None:
                continue
            r = client.post("/api/v1/consent/events", **last_request)
            assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"
            continue
        if action == "expired":
            with db.session(toko.id) as s:
                consent.expire(
                    s, principal, subjects.get_subject(s, ids[who]), purpose,
                    consent.Proof(None, "", "en", "api", "system"),
                )  # fmt: skip
            recorded += 1
            continue
        last_request = {
            "json": {
                "subject_id": ids[who],
                "purpose": purpose,
                "action": action,
                "proof": {"text": "Setuju.", "language": "id", "channel": "api", "method": "form"},
            },
            "headers": {**toko.headers, "Idempotency-Key": f"run{run}-op{n}"},
        }
        r = client.post("/api/v1/consent/events", **last_request)
        assert r.status_code == 201, r.text
        recorded += 1
    assert _assert_consistent(db, toko.id, ids) == recorded


def test_projection_equals_replay_under_concurrent_writers(db, toko):
    principal = orgs.system_principal(toko.id, "test")
    with db.session(toko.id) as s:
        ids = [
            subjects.find_or_create(s, principal, {"external": f"par-cust{i}"}).id for i in range(2)
        ]
    errors: list[BaseException] = []
    counts = [0] * 4
    barrier = threading.Barrier(4)

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            barrier.wait()
            for _ in range(12):
                action = rng.choice(["granted", "withdrawn"])
                with db.session(toko.id) as s:
                    subject = subjects.get_subject(s, rng.choice(ids))
                    write = consent.grant if action == "granted" else consent.withdraw
                    write(s, principal, subject, "newsletter", consent.Proof(
                        None, "Setuju.", "id", "web", "button"))  # fmt: skip
                counts[n] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], [repr(e) for e in errors]
    assert _assert_consistent(db, toko.id, ids) == sum(counts) == 48
