"""The written permission matrix: which staff role may do what.

API keys carry a subset of these permissions as scopes. A processor's staff acting in a hosted
organisation get their role's permissions intersected with the hosting grant's actions.
The README renders this table.
"""

from __future__ import annotations

from privasi.orgs.models import StaffRole

# permission -> (description, roles that hold it)
MATRIX: dict[str, tuple[str, frozenset[StaffRole]]] = {}


def _p(name: str, description: str, *roles: StaffRole) -> None:
    MATRIX[name] = (description, frozenset(roles))


OWNER, DPO, AGENT, AUDITOR = StaffRole.owner, StaffRole.dpo, StaffRole.agent, StaffRole.auditor

_p("org.read", "see the organisation and its settings", OWNER, DPO, AGENT, AUDITOR)
_p("org.manage", "change the organisation's settings", OWNER)
_p("staff.read", "list staff accounts", OWNER, DPO, AUDITOR)
_p("staff.manage", "create, change and disable staff accounts", OWNER)
_p("api_keys.read", "list API keys (never their secrets)", OWNER, DPO, AUDITOR)
_p("api_keys.manage", "create and revoke API keys", OWNER)
_p("hosting.read", "see hosting grants", OWNER, DPO, AUDITOR)
_p("hosting.manage", "grant and revoke a processor's access", OWNER)
_p("secrets.manage", "set and delete stored secrets", OWNER)
_p("audit.read", "read the audit log", DPO, AUDITOR)
_p("policy.read", "read policy versions", OWNER, DPO, AGENT, AUDITOR)
_p("policy.manage", "upload and publish policy versions", OWNER, DPO)
_p("subjects.read", "read data subjects' records", OWNER, DPO, AGENT)
_p("subjects.manage", "create and change data subjects' records", OWNER, DPO, AGENT)
_p("consent.read", "read consent records and their proof", OWNER, DPO, AGENT, AUDITOR)
_p("consent.manage", "record consent events", OWNER, DPO, AGENT)
_p("requests.read", "see rights requests", OWNER, DPO, AGENT, AUDITOR)
_p("requests.manage", "handle rights requests", OWNER, DPO, AGENT)
_p("requests.approve", "approve, deny and complete rights requests", OWNER, DPO)
_p("retention.read", "see retention rules, runs and holds", OWNER, DPO, AGENT, AUDITOR)
_p("retention.manage", "run sweeps and place legal holds", OWNER, DPO)
_p("breach.read", "see breach records", OWNER, DPO, AUDITOR)
_p("breach.manage", "record breaches and send notices", OWNER, DPO)
_p("breach.approve", "approve breach notices before they are sent", DPO)
_p("gateway.use", "call the LLM privacy gateway", OWNER, DPO)

ALL_PERMISSIONS: frozenset[str] = frozenset(MATRIX)

# What a hosting grant never carries: a grant is for doing the controller's processing, not for
# making accounts, keys, grants or secrets that would keep the processor in after a revocation.
NEVER_GRANTED: frozenset[str] = frozenset(
    {"staff.manage", "api_keys.manage", "hosting.manage", "secrets.manage"}
)

# Roles whose accounts must use TOTP: they can see and change everything that matters.
MFA_REQUIRED: frozenset[StaffRole] = frozenset({StaffRole.owner, StaffRole.dpo})


def role_permissions(role: StaffRole | str) -> frozenset[str]:
    role = StaffRole(role)
    return frozenset(name for name, (_, roles) in MATRIX.items() if role in roles)


def markdown_table() -> str:
    lines = [
        "| permission | what it allows | owner | dpo | agent | auditor |",
        "|---|---|---|---|---|---|",
    ]
    for name, (description, roles) in MATRIX.items():
        marks = " | ".join("yes" if r in roles else "" for r in StaffRole)
        lines.append(f"| `{name}` | {description} | {marks} |")
    return "\n".join(lines)
