"""The ``sql`` connector: access, erasure and rectification in the business's own database.

The connection URL is the organisation's secret named by the system's ``credential``. A table's
rows belong to the subject when its identity column holds one of the subject's identifiers of the
table's ``match`` kind (see ``policy.systems.Table.match_kind``), or, for a table declared with
``via: customers.id``, the key of one of the subject's rows in that other table.

Erasure and rectification go through the rows in batches of ``BATCH_ROWS`` primary keys, each
batch one transaction in the business's database. Before a batch is applied, its keys are
committed in ``task.result`` as ``pending``; once applied, the next batch's keys replace them in
the same commit as the count of the batch just done. A process killed anywhere replays at most the
pending batch, whose operations are idempotent, and counts each row once. Connection errors are
raised: the ``rights.execute`` job retries the task with backoff.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from privasi.connectors import tables, targets
from privasi.connectors.tables import ConnectorError, Mapped, describe
from privasi.db import PrivasiSession
from privasi.errors import NotFound
from privasi.policy import service as policies
from privasi.policy.models import PolicyVersion
from privasi.policy.systems import System
from privasi.policy.vocab import StartEvent
from privasi.rights import service as rights
from privasi.rights.execution import executor, lock_task
from privasi.rights.export import attach_records
from privasi.rights.models import RequestTask, RightsRequest
from privasi.subjects import identifiers as ident
from privasi.subjects import service as subjects
from privasi.vault.service import get_secret, vault_for

BATCH_ROWS = 500
# What the connector has no rows to change for: privasi enforces these itself at run time.
NOTHING_TO_DO = {"restrict", "object", "withdraw_consent"}

Apply = Callable[[Connection, Mapped, list[list[Any]]], int]


URL_TTL_SECONDS = 60.0
# A task started within this many seconds of the last look at the policy uses the same version.
POLICY_RECHECK_SECONDS = 2.0
_systems: dict[tuple[str, str], tuple[float, str, System]] = {}
_urls: dict[tuple[str, str], tuple[float, str]] = {}


def _latest_published(session: PrivasiSession) -> str | None:
    return session.scalar(
        select(PolicyVersion.id)
        .where(PolicyVersion.status == "published")
        .order_by(PolicyVersion.effective_date.desc(), PolicyVersion.number.desc())
        .limit(1)
    )


def system_of(session: PrivasiSession, system_id: str) -> System:
    """The system as the policy in effect declares it. A published version never changes, so
    the parsed declaration is kept per version (parsing the policy costs more than a batch);
    while no version was published since, the one in effect is still the one cached."""
    org_id = session.require_org()
    now = time.monotonic()
    cached = _systems.get((org_id, system_id))
    if cached is not None and (
        now - cached[0] < POLICY_RECHECK_SECONDS or cached[1] == _latest_published(session)
    ):
        system = cached[2]
        checked = now if now - cached[0] >= POLICY_RECHECK_SECONDS else cached[0]
        _systems[(org_id, system_id)] = (checked, cached[1], system)
    else:
        version = policies.require_current(session)
        system = policies.to_policy(session, version).system(system_id)
        if len(_systems) > 1024:
            _systems.clear()
        _systems[(org_id, system_id)] = (now, version.id, system)
    if system.kind.value != "sql":
        raise ConnectorError(f"system '{system_id}' is not an sql system")
    return system


def _url(session: PrivasiSession, credential: str, fresh: bool) -> str:
    """The connection URL, kept in memory for ``URL_TTL_SECONDS`` (the engine made from it holds
    it anyway); a connection error or ``fresh`` reads the stored secret again, so a changed
    password is picked up by the retry."""
    key = (session.require_org(), credential)
    now = time.monotonic()
    cached = _urls.get(key)
    if cached is not None and not fresh and now - cached[0] < URL_TTL_SECONDS:
        return cached[1]
    try:
        url = get_secret(session, credential).strip()
    except NotFound:
        raise ConnectorError(
            f"no secret named '{credential}' is stored for this organisation; "
            f"store the connection URL with `privasi secrets set ORG {credential}`"
        ) from None
    _urls[key] = (now, url)
    return url


def forget_url(session: PrivasiSession, system: System) -> None:
    if system.credential is not None:
        _urls.pop((session.require_org(), system.credential), None)


def _own_urls(session: PrivasiSession) -> list[str]:
    settings = vault_for(session).settings
    bind = session.get_bind()
    return [bind.engine.url.render_as_string(), settings.db_url, settings.keys_url]


def connect(
    session: PrivasiSession, system: System, *, fresh: bool = False
) -> tuple[Engine, list[Mapped]]:
    """The system's engine and its declared tables, checked against the database (``fresh``:
    read the secret and the schema now rather than reuse recent readings)."""
    if system.credential is None:
        raise ConnectorError(f"system '{system.id}' names no credential")
    url = _url(session, system.credential, fresh)
    names = [spec.name for spec in system.tables]
    targets.check_sql_target(url, vault_for(session).settings, _own_urls(session), names)
    engine = tables.engine_for(url)
    if fresh:
        tables.forget_reflection(engine)
    return engine, tables.reflected(engine, system.tables)


def hash_key(session: PrivasiSession, system: System) -> bytes:
    """The system's HMAC key for the ``hash`` strategy: derived from the organisation's
    blind-index key in the key store (so it is never stored beside the data it protects, and
    dies with the organisation's keys), distinct per system."""
    org_id = session.require_org()
    # Tagged with a name no identifier kind uses, so it never equals a stored blind index.
    derived = vault_for(session).blind_index(org_id, "external_id", f"connector-hash:{system.id}")
    return hashlib.sha256(bytes.fromhex(derived)).digest()


# Per session: a batch of requests' sql tasks run in one session (``runner.run_batch``), and each
# subject's identifiers, each task's planned work and each system's declaration, engine, tables
# and HMAC key are read once for all of them.
_HELD = "privasi.connectors.sql.held"
_PLANNED = "privasi.connectors.sql.planned"
_OPEN = "privasi.connectors.sql.open"
_HASH_KEYS = "privasi.connectors.sql.hash_keys"


def _opened(session: PrivasiSession, system_id: str) -> tuple[System, Engine, list[Mapped]]:
    """``system_of`` and ``connect``, once per session and system."""
    found: dict[str, tuple[System, Engine, list[Mapped]]] = session.info.setdefault(_OPEN, {})
    opened = found.get(system_id)
    if opened is None:
        system = system_of(session, system_id)
        try:
            engine, mapped = connect(session, system)
        except (SQLAlchemyError, ConnectorError):
            forget_url(session, system)  # a changed password is read again by the retry
            raise
        opened = found[system_id] = (system, engine, mapped)
    return opened


def _hash_key(session: PrivasiSession, system: System) -> bytes:
    keys: dict[str, bytes] = session.info.setdefault(_HASH_KEYS, {})
    key = keys.get(system.id)
    if key is None:
        key = keys[system.id] = hash_key(session, system)
    return key


def subject_identifiers(session: PrivasiSession, request: RightsRequest) -> dict[str, list[str]]:
    if request.subject_id is None:
        raise ConnectorError("the request is not matched to a data subject")
    held: dict[str, dict[str, list[str]]] = session.info.setdefault(_HELD, {})
    found = held.get(request.subject_id)
    if found is None:
        found = held[request.subject_id] = subjects.identifiers_of(session, request.subject_id)
    return found


def _save(task: RequestTask, **changes: Any) -> None:
    task.result = {**(task.result or {}), **changes}


def _table_state(task: RequestTask, name: str) -> dict[str, Any]:
    return dict(((task.result or {}).get("tables") or {}).get(name) or {})


def _put_table(
    session: PrivasiSession, task: RequestTask, name: str, state: dict[str, Any]
) -> None:
    states = dict((task.result or {}).get("tables") or {})
    # A copy: the caller goes on changing ``state``, and a value equal to the one last saved
    # (the same object) would not be written at the next commit.
    states[name] = dict(state)
    _save(task, tables=states)


def _checkpoint(session: PrivasiSession, task: RequestTask) -> RequestTask:
    # The row lock ends here on PostgreSQL; the run's ``task_guard`` (an advisory lock held from
    # before the task is read until it is finished) keeps other workers out, so the row is not
    # locked again: it would only read back what this session just wrote (no expiry on commit).
    session.commit()
    return task


def _walk(
    session: PrivasiSession,
    task: RequestTask,
    conn: Connection,
    mapped: Mapped,
    values: list[str],
    apply: Apply,
) -> RequestTask:
    """Go through the subject's rows of one table in key order, batch by batch (see the module
    docstring for why this handles every row once). Each batch is one transaction of ``conn``:
    committed there before its count is saved here."""
    state = _table_state(task, mapped.name)
    if state.get("done"):
        return task
    state.setdefault("rows", 0)
    while True:
        pending = state.get("pending")
        if pending:
            apply(conn, mapped, pending)
            conn.commit()
            state["rows"] += len(pending)
            state["after"] = pending[-1]
            state["pending"] = None
            # A short batch was the last one: keyset paging found every matching row.
            last = len(pending) < BATCH_ROWS
        else:
            last = False
        keys: list[list[Any]] = []
        if not last:
            keys = tables.next_keys(conn, mapped, values, state.get("after"), BATCH_ROWS)
        if not keys:
            state["done"] = True
            _put_table(session, task, mapped.name, state)
            return task
        state["pending"] = keys
        state["batches"] = int(state.get("batches", 0)) + 1
        _put_table(session, task, mapped.name, state)
        task = _checkpoint(session, task)


Work = tuple[Mapped, list[str], Apply, dict[str, Any]]


def _first_keys(
    session: PrivasiSession, task: RequestTask, conn: Connection, work: list[Work]
) -> bool:
    """Look up and record (not commit) the first batch of each table not started yet; True when
    some batch is pending, so the caller must commit before applying it."""
    fresh = [w for w in work if not _table_state(task, w[0].name)]
    for mapped, values, _, _ in fresh:
        keys = tables.next_keys(conn, mapped, values, None, BATCH_ROWS)
        state: dict[str, Any] = {"rows": 0, "batches": 1 if keys else 0}
        state.update({"pending": keys} if keys else {"done": True})
        _put_table(session, task, mapped.name, state)
    return any(_table_state(task, w[0].name).get("pending") for w in fresh)


def _run_tables(
    session: PrivasiSession, task: RequestTask, engine: Engine, work: list[Work]
) -> RequestTask:
    """Every table's batches, in the order given, on one connection. The first batch of each
    table is looked up up front and recorded in one commit (most subjects have one batch per
    table, so this is the only bookkeeping commit of the task). The look-up may share the first
    table's transaction: it only reads, and the batch is replayable anyway."""
    with engine.connect() as conn:
        if _first_keys(session, task, conn, work):
            task = _checkpoint(session, task)
        for mapped, values, apply, extra in work:
            task = _walk(session, task, conn, mapped, values, apply)
            _put_table(session, task, mapped.name, {**_table_state(task, mapped.name), **extra})
        # Nothing is left open: a table with nothing pending only read.
        conn.rollback()
    return task


# --- access -------------------------------------------------------------------------------------


def records_for(mapped: Mapped, rows: list[dict[str, Any]], system_id: str) -> list[dict[str, Any]]:
    collected = mapped.spec.timestamps.get(StartEvent.collected)
    records = []
    for row in rows:
        recorded = row.get(collected) if collected else None
        for column in mapped.spec.columns:
            if row.get(column.name) is None:
                continue
            records.append(
                {
                    "category": column.category,
                    "field": f"{mapped.name}.{column.name}",
                    "value": row[column.name],
                    "source": f"{system_id}.{mapped.name}",
                    "recorded_at": recorded,
                }
            )
    return records


def run_access(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    engine: Engine,
    mapped: list[Mapped],
) -> None:
    held = subject_identifiers(session, request)
    records: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in mapped:
            values = tables.match_values(table.kind(), held)
            rows = list(tables.read(conn, table, values)) if values else []
            counts[table.name] = len(rows)
            records.extend(records_for(table, rows, system.id))
    _save(task, rows=counts)
    attach_records(session, request, task, records)


# --- erasure ------------------------------------------------------------------------------------


def run_erase(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    engine: Engine,
    mapped: list[Mapped],
) -> None:
    work = _planned(session, task) or erase_work(session, request, task, system, mapped)
    task = _run_tables(session, task, engine, work)
    _save(task, kept=list((task.result or {}).get("keep") or []))


def erase_work(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    mapped: list[Mapped],
) -> list[Work]:
    """Each table's erasure, in the order it must run (tables with nothing to do are recorded
    as skipped)."""
    held = subject_identifiers(session, request)
    keep = list((task.result or {}).get("keep") or [])
    kept_categories = {c for entry in keep for c in entry.get("categories", [])}
    hash_value = tables.hasher(_hash_key(session, system))
    work: list[Work] = []
    # Rows that reference others go first, so foreign keys never block a deletion.
    for table in reversed(mapped):
        plan = tables.erasure_plan(table.spec, kept_categories)
        values = tables.match_values(table.kind(), held)
        if plan.empty or not values:
            _put_table(session, task, table.name, {"done": True, "rows": 0, "skipped": True})
            continue

        def apply(conn: Connection, m: Mapped, keys: list[list[Any]], plan: Any = plan) -> int:
            return tables.erase(conn, m, plan, keys, hash_value)

        extra: dict[str, Any] = {"action": "deleted" if plan.delete else "erased_columns"}
        if plan.kept_columns:
            extra["kept_columns"] = plan.kept_columns
        work.append((table, values, apply, extra))
    return work


# --- rectification ------------------------------------------------------------------------------


def corrections(mapped: Mapped, changes: dict[str, str]) -> dict[str, str]:
    """Column -> corrected value for one table. A change names a column (``phone``), a
    ``table.column``, or an identifier kind the table is matched by (``email`` changes the
    identity column of a table matched by e-mail). Identifiers are stored normalised."""
    kind = mapped.spec.match_kind()
    out: dict[str, str] = {}
    for field, value in changes.items():
        for column in mapped.columns:
            if field in (column, f"{mapped.name}.{column}"):
                out[column] = value
        same = field == kind or (field in ("phone", "whatsapp") and kind in ("phone", "whatsapp"))
        # A table found through another holds that table's key, not an identifier.
        if same and mapped.parent is None:
            out[mapped.spec.identity_column] = value
    for column, value in list(out.items()):
        if column == mapped.spec.identity_column and kind in ident.IDENTIFIER_KINDS:
            out[column] = ident.normalise(kind, value)
    return out


def run_rectify(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    engine: Engine,
    mapped: list[Mapped],
) -> None:
    work = _planned(session, task) or rectify_work(session, request, task, system, mapped)
    changes: dict[str, str] = rights.details_of(session, request).get("changes", {})
    applied = {f for f in changes for m, *_ in work if corrections(m, {f: changes[f]})}
    task = _run_tables(session, task, engine, work)
    _save(task, applied=sorted(applied), elsewhere=sorted(set(changes) - applied))


def rectify_work(
    session: PrivasiSession,
    request: RightsRequest,
    task: RequestTask,
    system: System,
    mapped: list[Mapped],
) -> list[Work]:
    """Each table's corrections, tables found through another first (tables with nothing to
    correct are recorded as skipped)."""
    held = subject_identifiers(session, request)
    changes: dict[str, str] = rights.details_of(session, request).get("changes", {})
    work: list[Work] = []
    # Tables found through another first: a corrected identifier would hide them otherwise.
    for table in sorted(mapped, key=lambda m: m.parent is None):
        fix = corrections(table, changes)
        values = tables.match_values(table.kind(), held)
        if not fix or not values:
            _put_table(session, task, table.name, {"done": True, "rows": 0, "skipped": True})
            continue

        def apply(
            conn: Connection, m: Mapped, keys: list[list[Any]], fix: dict[str, str] = fix
        ) -> int:
            return tables.correct(conn, m, fix, keys)

        work.append((table, values, apply, {"columns": sorted(fix)}))
    return work


ACTIONS = {"access": run_access, "erase": run_erase, "rectify": run_rectify}
PLANS = {"erase": erase_work, "rectify": rectify_work}


def _planned(session: PrivasiSession, task: RequestTask) -> list[Work] | None:
    found: list[Work] | None = session.info.get(_PLANNED, {}).pop(task.id, None)
    return found


@executor("sql", deferred=("erase", "rectify", *NOTHING_TO_DO))
def run_sql(session: PrivasiSession, request: RightsRequest, task: RequestTask) -> None:
    """The rights task of one sql system; raises (and the job retries) when the database is
    unreachable. The error kept on the task names the exception class only."""
    if task.action in NOTHING_TO_DO:
        _save(task, nothing_to_do=True)
        return
    run = ACTIONS.get(task.action)
    if run is None:
        raise ConnectorError(f"the sql connector does not do '{task.action}'")
    engine: Engine | None = None
    system: System | None = None
    try:
        system, engine, mapped = _opened(session, task.system_id)
        run(session, request, task, system, engine, mapped)
    except (SQLAlchemyError, ConnectorError) as exc:
        # The next task of this system (in this batch, or the retry) reads everything again.
        session.info.get(_OPEN, {}).pop(task.system_id, None)
        if engine is not None:
            tables.forget_reflection(engine)
        if system is not None:
            forget_url(session, system)
        # Driver messages quote statements and parameters: keep only the class.
        message = (
            str(exc) if isinstance(exc, ConnectorError) else f"database error ({describe(exc)})"
        )
        # Kept on the task (progress so far is consistent) so staff see why it is retried.
        session.rollback()
        task = lock_task(session, task.id)
        _save(task, last_error=message[:500])
        session.commit()
        raise ConnectorError(message) from None
    _save(task, last_error=None)


# The batch's preparer registers itself; imported last, as it uses this module's helpers.
from privasi.connectors import prepare as _prepare  # noqa: E402, F401
