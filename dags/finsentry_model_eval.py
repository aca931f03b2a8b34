"""finsentry_model_eval: every week, evaluate the configured model on a labelled file, store the
metrics (reports on disk and the store's ``model_eval`` history), and fail (so Airflow alerts) when
accuracy dropped by more than the tolerance; the drop is also e-mailed when SMTP is configured
(the Connection ``finsentry_smtp``, else FINSENTRY_SMTP_* of the workers).

Schedule: the asset ``finsentry://store/week-complete``, which finsentry_ingest updates when the
store's watermark passes the end of a Sunday (UTC), so the week's evaluation runs once that week's
news is in; the entry is dated by the run (its logical date, else when it was triggered). Keep
finsentry_ingest unpaused even without feeds: it is what announces complete weeks.

Variables: ``finsentry_eval_data`` (labelled CSV/JSONL, required), ``finsentry_eval_task``
(sentiment, topic or both; default sentiment), ``finsentry_eval_label_names`` (e.g.
``sentiment=bearish,bullish,neutral``), ``finsentry_eval_tolerance`` (default 0.02),
``finsentry_eval_baseline`` (JSON, e.g. ``{"sentiment": 0.88}``; default: the previous run),
``finsentry_eval_dir`` (reports). The model is FINSENTRY_MODEL (default: the bundled one).

A missing or empty labelled file is a data error: ``check_accuracy`` fails the run at once, with no
retry (retrying cannot create the file); the store and the model load are retried. The evaluation
runs in the ``finsentry_models`` pool and has two hours.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, dag, task

from finsentry.app.dagwiring import MODEL_POOL, WEEK_COMPLETE, variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_model_eval",
    schedule=[Asset(WEEK_COMPLETE)],
    start_date=W.start_date,
    max_active_runs=1,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
)
def finsentry_model_eval() -> None:
    @task.external_python(
        **W.external(pool=MODEL_POOL, execution_timeout=timedelta(hours=2), retries=2)
    )
    def evaluate(
        config: str, data: str, task_name: str, label_names: str, tolerance: str,
        baseline: str, out_dir: str, day: str,
    ) -> dict:  # fmt: skip
        import json
        from datetime import date
        from pathlib import Path

        from finsentry.app import jobs

        if not data:
            return {"data_error": "set the Airflow Variable finsentry_eval_data to a labelled file"}
        if not Path(data).is_file():
            return {"data_error": f"labelled file {data} not found (finsentry_eval_data)"}
        settings = jobs.job_settings(config=config)
        try:
            return jobs.evaluate_model(
                settings,
                data,
                task_name or "sentiment",
                Path(out_dir) if out_dir else Path.home() / "finsentry-evaluations",
                date.fromisoformat(day),
                label_names=[part for part in label_names.split(";") if part.strip()],
                tolerance=float(tolerance or 0.02),
                baseline=json.loads(baseline) if baseline else None,
            )
        except jobs.EvalDataError as exc:
            return {"data_error": str(exc)}

    @task(retries=0, execution_timeout=timedelta(minutes=5))
    def check_accuracy(result: dict) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        if "data_error" in result:  # AirflowFailException: no retry
            raise AirflowFailException(f"model evaluation has no data: {result['data_error']}")
        if result["drops"]:
            drops = ", ".join(
                f"{name} {d['accuracy']:.4f} < {d['reference']:.4f} - {result['tolerance']}"
                for name, d in result["drops"].items()
            )
            raise AirflowFailException(f"model accuracy dropped: {drops} ({result['model']})")
        return result["accuracy"]

    check_accuracy(
        evaluate(
            config=W.config,
            data=variable("finsentry_eval_data"),
            task_name=variable("finsentry_eval_task", "sentiment"),
            label_names=variable("finsentry_eval_label_names"),
            tolerance=variable("finsentry_eval_tolerance", "0.02"),
            baseline=variable("finsentry_eval_baseline"),
            out_dir=variable("finsentry_eval_dir"),
            day="{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y-%m-%d') }}",
        )
    )


finsentry_model_eval()
