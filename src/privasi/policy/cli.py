"""``privasi policy ...``: check, render, records of processing, diff, JSON Schema.

Exit codes: 0 success; 1 a file is invalid or unreadable (problems on stderr, one per line with
file and line number); ``diff`` exits 2 when at least one change is material, so a CI job can
stop a release that needs advance notice to people (UU PDP Pasal 21(2)).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer

from privasi.policy.diff import diff_policies
from privasi.policy.loader import PolicyError, load_policy
from privasi.policy.render import render_notice
from privasi.policy.ropa import ropa_csv, ropa_markdown
from privasi.policy.schema import Policy

app = typer.Typer(
    name="policy",
    help="Check, render and compare policy files (one YAML file per organisation).",
    no_args_is_help=True,
)

EXIT_INVALID = 1
EXIT_MATERIAL = 2


class Lang(StrEnum):
    id = "id"
    en = "en"


class NoticeFormat(StrEnum):
    html = "html"
    md = "md"


class RopaFormat(StrEnum):
    csv = "csv"
    md = "md"


def _load(path: Path) -> Policy:
    try:
        return load_policy(path)
    except PolicyError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_INVALID) from None


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@app.command()
def check(files: list[Path] = typer.Argument(..., help="Policy files to validate.")) -> None:
    """Validate policy files; print every problem with its file, line and field."""
    failed = False
    for path in files:
        try:
            policy = load_policy(path)
        except PolicyError as exc:
            failed = True
            for problem in exc.problems:
                typer.echo(str(problem), err=True)
            continue
        typer.echo(
            f"ok {path}: {policy.organisation.legal_name}, {len(policy.purposes)} purposes, "
            f"{len(policy.categories)} categories, {len(policy.recipients)} recipients"
        )
    if failed:
        raise typer.Exit(EXIT_INVALID)


@app.command()
def render(
    file: Path,
    lang: Lang = typer.Option(Lang.id, "--lang", help="Language of the notice."),
    fmt: NoticeFormat = typer.Option(NoticeFormat.html, "--format", help="html or md."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
) -> None:
    """Render the public privacy notice."""
    _write(render_notice(_load(file), lang.value, fmt.value), out)


@app.command()
def ropa(
    file: Path,
    fmt: RopaFormat = typer.Option(RopaFormat.csv, "--format", help="csv or md."),
    lang: Lang = typer.Option(Lang.en, "--lang", help="Language of names in the rows."),
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
) -> None:
    """Records of processing (UU PDP Pasal 31): purpose x category x recipient."""
    policy = _load(file)
    text = (
        ropa_csv(policy, lang.value) if fmt is RopaFormat.csv else ropa_markdown(policy, lang.value)
    )
    _write(text, out)


@app.command()
def diff(
    old: Path,
    new: Path,
    as_json: bool = typer.Option(False, "--json", help="Structured output."),
) -> None:
    """List every change between two versions; exit 2 if any change is material."""
    result = diff_policies(_load(old), _load(new))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        typer.echo(result.text(), nl=False)
    if result.has_material:
        raise typer.Exit(EXIT_MATERIAL)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the policy file (for editor completion and validation)."""
    typer.echo(json.dumps(Policy.model_json_schema(), indent=2))
