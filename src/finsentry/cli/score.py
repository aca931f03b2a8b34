"""``finsentry score``: texts in, sentiment and topic out, and the sentiment towards named entities."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from finsentry.cli.common import (
    backend_option,
    device_option,
    env_option,
    model_option,
    setting_option,
    settings_from,
)
from finsentry.inert import for_terminal
from finsentry.schema import TextScore, signed


@dataclass(frozen=True, slots=True)
class Line:
    """One text to score, as given, with the entities to score it towards."""

    text: str
    entities: tuple[str, ...] = ()


def read_jsonl(handle: Any, extra: tuple[str, ...]) -> list[Line]:
    """Lines ``{"text": "...", "entities": ["...", ...]}`` (entities optional)."""
    lines: list[Line] = []
    for number, raw in enumerate(handle, 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise click.UsageError(f"--input line {number}: not JSON ({exc.msg})") from None
        text = record.get("text") if isinstance(record, dict) else None
        names = record.get("entities", []) if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise click.UsageError(f'--input line {number}: needs a "text" string')
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise click.UsageError(f'--input line {number}: "entities" must be a list of strings')
        lines.append(Line(text, tuple(dict.fromkeys([*names, *extra]))))
    return lines


def result_json(line: Line, result: TextScore | None, model_id: str) -> dict[str, Any]:
    """The documented ``--json`` record of one line."""
    if result is None:
        return {"text": line.text, "error": "empty_text"}
    record: dict[str, Any] = {
        "text": line.text,
        "sentiment": {
            "label": result.sentiment,
            "probs": {
                "negative": round(result.negative, 6),
                "neutral": round(result.neutral, 6),
                "positive": round(result.positive, 6),
            },
            "score": round(result.score, 6),
        },
        "topic": {"label": result.topic, "prob": round(result.topic_prob, 6)},
        "model": model_id,
    }
    if line.entities:
        record["entities"] = []
        for name, towards in zip(line.entities, result.targets, strict=True):
            values = towards.to_json()
            basis = values.pop("basis")
            record["entities"].append({"entity": name, "sentiment": values, "basis": basis})
    return record


def result_text(line: Line, result: TextScore | None) -> list[str]:
    """Table lines for the terminal; the texts and names are shown inert (no control or bidi
    characters)."""
    text = for_terminal(line.text)
    if result is None:
        return [f"{'(empty)':>8}  {'':>6}  {'':<28}  {text}"]
    out = [
        f"{result.sentiment:>8}  {signed(result.score, 3)}  "
        f"{result.topic[:22]:<22} {result.topic_prob:.2f}  {text}"
    ]
    for name, towards in zip(line.entities, result.targets, strict=True):
        note = "" if towards.basis == "entity" else "  (not named in the text: headline's)"
        shown = for_terminal(name)
        out.append(f"{towards.sentiment:>8}  {signed(towards.score, 3)}  towards {shown}{note}")
    return out


@click.command()
@click.argument("texts", nargs=-1)
@env_option(
    "--input",
    "input_file",
    env="SCORE_INPUT",
    type=click.File("r", encoding="utf-8"),
    help="Score the lines of this file ('-' for standard input); see --input-format.",
)
@env_option(
    "--input-format",
    env="SCORE_INPUT_FORMAT",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help='text: one text per line. jsonl: {"text": "...", "entities": ["...", ...]} per line.',
)
@env_option(
    "--entity",
    "entities",
    env="SCORE_ENTITY",
    multiple=True,
    metavar="NAME",
    help="Also score each text's sentiment towards NAME (repeatable; order kept).",
)
@env_option("--json", "as_json", env="SCORE_JSON", is_flag=True, help="One JSON object per input line.")
@model_option
@device_option
@backend_option
@setting_option("--token-budget", field="token_budget", type=int)
@setting_option("--max-length", field="max_length", type=int)
@click.pass_context
def score(ctx: click.Context, /, texts: tuple[str, ...], **opts: Any) -> None:
    """Score texts for sentiment and topic, and towards named entities.

    Texts come as arguments or from --input. Each is normalised as the pipeline does (HTML and
    URLs removed) and scored. With --entity (or "entities" in --input-format jsonl) the text is
    also scored towards each name, where the text names it ("Infosys gains as Wipro slips" is
    positive towards Infosys, negative towards Wipro); a name the text does not contain gets the
    text's own sentiment, marked "basis": "headline".

    --json prints, in input order, one object per line: {"text", "sentiment": {"label", "probs":
    {"negative", "neutral", "positive"}, "score"}, "topic": {"label", "prob"}, "model"} and, with
    entities, "entities": [{"entity", "sentiment": {"label", "probs", "score"}, "basis"}] in the
    order given; a text that is empty after normalisation prints {"text", "error": "empty_text"}.

    \b
    Examples:
      finsentry score "Shares plunge after profit warning" --json
      finsentry score "Infosys gains as Wipro slips" --entity Infosys --entity Wipro
      finsentry score --input headlines.jsonl --input-format jsonl --json
    """
    from finsentry.entities import name_spans
    from finsentry.schema import Target
    from finsentry.scoring import load_scorer
    from finsentry.sources.normalise import normalise_text

    extra = tuple(dict.fromkeys(opts["entities"]))
    lines = [Line(text, extra) for text in texts]
    if opts["input_file"] is not None:
        if opts["input_format"] == "jsonl":
            lines += read_jsonl(opts["input_file"], extra)
        else:
            lines += [Line(raw.rstrip("\r\n"), extra) for raw in opts["input_file"]]
    if not lines:
        raise click.UsageError("give texts as arguments or a file with --input")
    settings = settings_from(
        ctx,
        model=opts["model"],
        device=opts["device"],
        backend=opts["backend"],
        token_budget=opts["token_budget"],
        max_length=opts["max_length"],
    )
    scorer = load_scorer(settings)
    normalised = [normalise_text(line.text) for line in lines]
    keep = [i for i, text in enumerate(normalised) if text]
    targets = [
        [Target(name, name_spans(normalised[i], normalise_text(name))) for name in lines[i].entities]
        for i in keep
    ]
    scored = scorer.score([normalised[i] for i in keep], targets)
    results = dict(zip(keep, scored, strict=True))
    for i, line in enumerate(lines):
        if opts["as_json"]:
            record = result_json(line, results.get(i), scorer.model_id)
            click.echo(json.dumps(record, ensure_ascii=False))
        else:
            for out in result_text(line, results.get(i)):
                click.echo(out)
    if not opts["as_json"]:
        click.echo(f"model: {scorer.model_id}", err=True)
