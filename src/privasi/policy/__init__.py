"""The policy file: schema, loading, validation, notice rendering (id, en), RoPA and diff.

This is the stable surface other parts call; everything else in the package may change.
"""

from privasi.policy.diff import Change, PolicyDiff, diff_policies
from privasi.policy.law import effective_deadline, statutory_deadline
from privasi.policy.loader import (
    PolicyError,
    Problem,
    load_policy,
    load_policy_text,
    parse_policy,
    policy_from_dict,
    upgrade,
)
from privasi.policy.periods import Period
from privasi.policy.render import render_notice
from privasi.policy.ropa import RopaRow, ropa_csv, ropa_markdown, ropa_rows
from privasi.policy.schema import CURRENT_SCHEMA_VERSION, Policy

__all__ = [
    "CURRENT_SCHEMA_VERSION",
    "Change",
    "Period",
    "Policy",
    "PolicyDiff",
    "PolicyError",
    "Problem",
    "RopaRow",
    "diff_policies",
    "effective_deadline",
    "load_policy",
    "load_policy_text",
    "parse_policy",
    "policy_from_dict",
    "render_notice",
    "ropa_csv",
    "ropa_markdown",
    "ropa_rows",
    "statutory_deadline",
    "upgrade",
]
