"""Read a policy file: YAML in, a validated ``Policy`` out, or a ``PolicyError`` with lines.

Every problem is reported at once (file, line, field path, message) so a privacy officer can fix
the whole file in one pass instead of one error per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from privasi.errors import ValidationFailed
from privasi.policy.base import Model
from privasi.policy.checks import Path as FieldPath
from privasi.policy.checks import cross_check
from privasi.policy.schema import CURRENT_SCHEMA_VERSION, Policy

UpgradeStep = Callable[[dict[str, Any]], dict[str, Any]]

# UPGRADES[n] turns a version-n document into a version n+1 document. When the schema grows,
# add a step here and bump CURRENT_SCHEMA_VERSION; stored versions and old files keep loading.
UPGRADES: dict[int, UpgradeStep] = {}


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyError(ValidationFailed):
    type = "policy-invalid"
    title = "The policy file is not valid"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        summary = "\n".join(str(p) for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in the policy:\n{summary}",
            problems=[p.__dict__ for p in problems],
        )


def upgrade(
    raw: dict[str, Any],
    *,
    steps: Mapping[int, UpgradeStep] | None = None,
    target: int = CURRENT_SCHEMA_VERSION,
) -> dict[str, Any]:
    """Bring a raw policy document up to ``target`` one version at a time."""
    steps = UPGRADES if steps is None else steps
    version = raw.get("schema_version", 1)
    if not isinstance(version, int) or version < 1:
        raise ValueError("schema_version must be a whole number from 1")
    if version > target:
        raise ValueError(
            f"schema_version {version} is newer than this privasi understands ({target}): "
            "upgrade privasi"
        )
    doc = dict(raw)
    while version < target:
        if version not in steps:
            raise ValueError(f"no upgrade step from schema_version {version}")
        doc = steps[version](doc)
        version += 1
        doc["schema_version"] = version
    return doc


def load_policy(path: str | Path) -> Policy:
    file = Path(path)
    try:
        text = file.read_text("utf-8")
    except OSError as exc:
        problem = Problem(file.name, None, "", f"cannot read the file ({exc.strerror})")
        raise PolicyError([problem]) from None
    return parse_policy(text, file.name)


def parse_policy(text: str, source_name: str = "<policy>") -> Policy:
    """Validate policy text, e.g. an upload; ``source_name`` is shown in the problems."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        message = f"YAML syntax error: {exc.problem or exc.context}"
        if exc.context and exc.context_mark and exc.problem:
            # The opening of an unclosed list or mapping is usually the line to fix.
            message += f" ({exc.context} started at line {exc.context_mark.line + 1})"
        raise PolicyError([Problem(source_name, line, "", message)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Problem(source_name, None, "", f"YAML error: {exc}")]) from None
    if not isinstance(raw, dict) or root is None:
        raise PolicyError([Problem(source_name, 1, "", "the policy must be a YAML mapping")])
    lines = _line_index(root)
    duplicates = [
        Problem(source_name, line, _path_text(path), "this key appears twice in the same mapping")
        for path, line in _duplicate_keys(root)
    ]
    if duplicates:
        raise PolicyError(duplicates)
    return policy_from_dict(raw, source_name, lines)


load_policy_text = parse_policy


def policy_from_dict(
    raw: dict[str, Any], source_name: str = "<policy>", lines: dict[FieldPath, int] | None = None
) -> Policy:
    """Upgrade and validate an already-parsed document (e.g. one stored in the database)."""
    lines = lines or {}
    try:
        doc = upgrade(raw)
    except ValueError as exc:
        line = lines.get(("schema_version",))
        raise PolicyError([Problem(source_name, line, "schema_version", str(exc))]) from None
    try:
        policy = Policy.model_validate(doc, context={"defer_checks": True})
    except ValidationError as exc:
        raise PolicyError(_from_pydantic(exc, source_name, lines)) from None
    problems = [
        Problem(source_name, _nearest_line(lines, path), _path_text(path), message)
        for path, message in cross_check(policy)
    ]
    if problems:
        raise PolicyError(problems)
    return policy


def _from_pydantic(exc: ValidationError, source: str, lines: dict[FieldPath, int]) -> list[Problem]:
    problems = []
    for err in exc.errors(include_input=False, include_url=False):
        path = tuple(p for p in err["loc"] if isinstance(p, int) or not _is_tag(p))
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = f"unknown field '{path[-1]}'"
        elif err["type"] == "missing":
            message = f"required field '{path[-1]}' is missing"
        problems.append(Problem(source, _nearest_line(lines, path), _path_text(path), message))
    return problems


def _is_tag(part: str | int) -> bool:
    # pydantic adds the branch of a union or a constraint name to the location; not a field.
    if not isinstance(part, str):
        return False
    return part in _MODEL_NAMES or part.startswith(("function-", "constrained-")) or "[" in part


def _model_names(cls: type) -> set[str]:
    names = {cls.__name__}
    sub: type
    for sub in cls.__subclasses__():
        names |= _model_names(sub)
    return names


_MODEL_NAMES = _model_names(Model) | {"str", "int", "bool", "float"}


def _path_text(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _nearest_line(lines: dict[FieldPath, int], path: FieldPath) -> int | None:
    for end in range(len(path), -1, -1):
        key = tuple(path[:end])
        if key in lines:
            return lines[key]
    return None


def _line_index(root: yaml.Node) -> dict[FieldPath, int]:
    """Path of every key and list item -> its 1-based line."""
    index: dict[FieldPath, int] = {(): root.start_mark.line + 1}

    def walk(node: yaml.Node, path: FieldPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                index.setdefault(sub, key.start_mark.line + 1)
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                index[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    walk(root, ())
    return index


def _duplicate_keys(root: yaml.Node) -> list[tuple[FieldPath, int]]:
    found: list[tuple[FieldPath, int]] = []

    def walk(node: yaml.Node, path: FieldPath) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    found.append(((*path, name), key.start_mark.line + 1))
                seen.add(name)
                walk(value, (*path, name))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    walk(root, ())
    return found
