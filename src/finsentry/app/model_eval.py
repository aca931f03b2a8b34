"""The weekly model evaluation behind the finsentry_model_eval DAG (through :mod:`finsentry.app.jobs`):
the configured model on a labelled file, its metrics kept in the store's history, accuracy drops
flagged and e-mailed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsentry.config import Settings

if TYPE_CHECKING:
    from finsentry.training.data import Example

EVAL_STATE_KEY = "model_eval"
EVAL_HISTORY = 200


class EvalDataError(ValueError):
    """The labelled evaluation data is missing or unusable: a retry cannot help."""


def _eval_examples(data: str, task: str, label_names: Sequence[str]) -> list[Example]:
    """The labelled examples of ``task`` in ``data``; EvalDataError when there are none."""
    from finsentry.training.data import load_examples, parse_label_names

    try:
        examples = load_examples(data, task, parse_label_names(label_names))
    except (OSError, ValueError, KeyError) as exc:
        raise EvalDataError(f"cannot read labelled examples from {data}: {exc}") from exc
    if not examples:
        raise EvalDataError(f"no labelled examples for task {task!r} in {data}")
    return examples


def _record_evaluation(
    settings: Settings, entry: dict[str, Any], baseline: dict[str, float] | None
) -> dict[str, float]:
    """Put ``entry`` into the store's evaluation history (replacing its date's entry); the
    accuracies it is compared with: ``baseline``, or else the same model's previous entry."""
    from finsentry.store import open_store

    store = open_store(settings.db)
    try:
        history = [
            e for e in (store.get_state(EVAL_STATE_KEY) or []) if e.get("date") != entry["date"]
        ]
        earlier = [e for e in history if e["date"] < entry["date"] and e["model"] == entry["model"]]
        reference = dict(baseline or (earlier[-1]["accuracy"] if earlier else {}))
        history = sorted([*history, entry], key=lambda e: str(e["date"]))[-EVAL_HISTORY:]
        store.set_state(EVAL_STATE_KEY, history)
    finally:
        store.close()
    return reference


def evaluate_model(
    settings: Settings,
    data: str,
    task: str,
    out_dir: Path,
    evaluated_for: date,
    *,
    label_names: Sequence[str] = (),
    tolerance: float = 0.02,
    baseline: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Evaluate the configured model on a labelled file, store the metrics, flag accuracy drops.

    The metrics go to ``out_dir`` (JSON + markdown) and to the store's ``model_eval`` history (one
    entry per evaluated date: re-running a date replaces it). A task's accuracy has dropped when it
    is more than ``tolerance`` below ``baseline`` (given) or else below the previous entry for the
    same model. Drops are e-mailed when SMTP and ``mail_to`` are configured; ``ok`` is False then.
    """
    from finsentry.scoring import load_scorer
    from finsentry.training.report import evaluate_with_scorer, write_reports

    examples = _eval_examples(data, task, label_names)
    scorer = load_scorer(settings)
    metrics = evaluate_with_scorer(scorer, examples)
    prefix = Path(out_dir) / f"model-eval-{evaluated_for.isoformat()}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = write_reports(prefix, scorer.model_id, data, metrics)
    entry = _entry(evaluated_for, scorer.model_id, data, metrics)
    accuracy = entry["accuracy"]
    reference = _record_evaluation(settings, entry, baseline)
    drops = {
        name: {"accuracy": acc, "reference": reference[name]}
        for name, acc in accuracy.items()
        if name in reference and reference[name] - acc > tolerance
    }
    result = {
        **entry,
        "reference": reference,
        "tolerance": tolerance,
        "drops": drops,
        "ok": not drops,
        "reports": [str(json_path), str(md_path)],
        "notified": False,
    }
    if drops and settings.smtp_host and settings.mail_to:
        from finsentry.app.reports import smtp_send

        smtp_send(settings, _accuracy_mail(settings, result))
        result["notified"] = True
    return result


def _entry(evaluated_for: date, model: str, data: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One week's entry of the ``model_eval`` history."""
    return {
        "date": evaluated_for.isoformat(),
        "model": model,
        "data": data,
        "accuracy": {name: round(m.accuracy, 6) for name, m in metrics.items()},
        "macro_f1": {name: round(m.macro_f1, 6) for name, m in metrics.items()},
        # how far the probabilities drift from how often they are right (docs/operations.md)
        "ece": {
            name: round(m.calibration.ece, 6)
            for name, m in metrics.items()
            if m.calibration is not None
        },
        "examples": sum(m.count for m in metrics.values()),
    }


def _accuracy_mail(settings: Settings, result: dict[str, Any]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"finsentry: model accuracy dropped ({result['model']}, {result['date']})"
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.mail_to)
    lines = [
        f"{name}: accuracy {d['accuracy']:.4f}, reference {d['reference']:.4f} "
        f"(tolerance {result['tolerance']})"
        for name, d in result["drops"].items()
    ]
    msg.set_content(
        f"The weekly evaluation of {result['model']} on {result['data']} found:\n\n"
        + "\n".join(lines)
        + f"\n\nReports: {', '.join(result['reports'])}\n"
    )
    return msg
