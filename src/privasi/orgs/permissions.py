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


O, D, A, U = StaffRole.owner, StaffRole.dpo, StaffRole.agent, StaffRole.auditor

_p("org.read", "see the organisation and its settings", O, D, A, U)
_p("org.manage", "change the organisation's settings", O)
_p("staff.read", "list staff accounts", O, D, U)
_p("staff.manage", "create, change and disable staff accounts", O)
_p("api_keys.read", "list API keys (never their secrets)", O, D, U)
_p("api_keys.manage", "create and revoke API keys", O)
_p("hosting.read", "see hosting grants", O, D, U)
_p("hosting.manage", "grant and revoke a processor's access", O)
_p("secrets.manage", "set and delete stored secrets", O)
_p("audit.read", "read the audit log", D, U)
_p("policy.read", "read policy versions", O, D, A, U)
_p("policy.manage", "upload and publish policy versions", O, D)
_p("subjects.read", "read data subjects' records", O, D, A)
_p("subjects.manage", "create and change data subjects' records", O, D, A)
_p("consent.read", "read consent records and their proof", O, D, A, U)
_p("consent.manage", "record consent events", O, D, A)
_p("requests.read", "see rights requests", O, D, A, U)
_p("requests.manage", "handle rights requests", O, D, A)
_p("requests.approve", "approve, deny and complete rights requests", O, D)
_p("retention.read", "see retention rules, runs and holds", O, D, A, U)
_p("retention.manage", "run sweeps and place legal holds", O, D)
_p("breach.read", "see breach records", O, D, U)
_p("breach.manage", "record breaches and send notices", O, D)
_p("gateway.use", "call the LLM privacy gateway", O, D)

ALL_PERMISSIONS: frozenset[str] = frozenset(MATRIX)

# Roles whose accounts must use TOTP: they can see and change everything that matters.
MFA_REQUIRED: frozenset[StaffRole] = frozenset({StaffRole.owner, StaffRole.dpo})


def role_permissions(role: StaffRole | str) -> frozenset[str]:
    role = StaffRole(role)
    return frozenset(name for name, (_, roles) in MATRIX.items() if role in roles)


def markdown_table() -> str:
    lines = ["| permission | what it allows | owner | dpo | agent | auditor |", "|---|---|---|---|---|---|"]
    for name, (description, roles) in MATRIX.items():
        marks = " | ".join("yes" if r in roles else "" for r in StaffRole)
        lines.append(f"| `{name}` | {description} | {marks} |")
    return "\n".join(lines)
