"""finsentry_model_eval: every week, evaluate the configured model on a labelled file, store the
metrics (reports on disk and the store's ``model_eval`` history), and fail (so Airflow alerts) when
accuracy dropped by more than the tolerance; the drop is also e-mailed when SMTP is configured.

Variables: ``finsentry_eval_data`` (labelled CSV/JSONL, required), ``finsentry_eval_task``
(sentiment, topic or both; default sentiment), ``finsentry_eval_label_names`` (e.g.
``sentiment=bearish,bullish,neutral``), ``finsentry_eval_tolerance`` (default 0.02),
``finsentry_eval_baseline`` (JSON, e.g. ``{"sentiment": 0.88}``; default: the previous run),
``finsentry_eval_dir`` (reports). The model is FINSENTRY_MODEL (default: the bundled one).
"""

from __future__ import annotations

from airflow.sdk import CronDataIntervalTimetable, dag, task

from finsentry.dagwiring import variable, wiring

W = wiring(__file__)


@dag(
    dag_id="finsentry_model_eval",
    schedule=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
    start_date=W.start_date,
    catchup=False,
    default_args=W.default_args,
    tags=list(W.tags),
    doc_md=__doc__,
)
def finsentry_model_eval() -> None:
    @task.external_python(python=W.python, expect_airflow=False)
    def evaluate(
        db: str, config: str, data: str, task_name: str, label_names: str, tolerance: str,
        baseline: str, out_dir: str, day: str,
    ) -> dict:  # fmt: skip
        import json
        from datetime import date
        from pathlib import Path

        from finsentry import jobs

        if not data:
            raise ValueError("set the Airflow Variable finsentry_eval_data to a labelled file")
        return jobs.evaluate_model(
            jobs.job_settings(db, config),
            data,
            task_name or "sentiment",
            Path(out_dir) if out_dir else Path.home() / "finsentry-evaluations",
            date.fromisoformat(day),
            label_names=[part for part in label_names.split(";") if part.strip()],
            tolerance=float(tolerance or 0.02),
            baseline=json.loads(baseline) if baseline else None,
        )

    @task
    def check_accuracy(result: dict) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        if result["drops"]:
            drops = ", ".join(
                f"{name} {d['accuracy']:.4f} < {d['reference']:.4f} - {result['tolerance']}"
                for name, d in result["drops"].items()
            )
            raise AirflowFailException(f"model accuracy dropped: {drops} ({result['model']})")
        return result["accuracy"]

    check_accuracy(
        evaluate(
            db=W.db,
            config=W.config,
            data=variable("finsentry_eval_data"),
            task_name=variable("finsentry_eval_task", "sentiment"),
            label_names=variable("finsentry_eval_label_names"),
            tolerance=variable("finsentry_eval_tolerance", "0.02"),
            baseline=variable("finsentry_eval_baseline"),
            out_dir=variable("finsentry_eval_dir"),
            day="{{ data_interval_end.strftime('%Y-%m-%d') }}",
        )
    )


finsentry_model_eval()
