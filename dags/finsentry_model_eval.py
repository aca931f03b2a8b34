"""finsentry_model_eval: every week, evaluate the configured model on a labelled file, store the
metrics (reports on disk and the store's ``model_eval`` history), and fail (so Airflow alerts) when
accuracy dropped by more than the tolerance; the drop is also e-mailed when SMTP is configured.

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

from airflow.sdk import CronDataIntervalTimetable, dag, task

from finsentry.dagwiring import MODEL_POOL, variable, wiring

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
    @task.external_python(
        python=W.python,
        expect_airflow=False,
        pool=MODEL_POOL,
        execution_timeout=timedelta(hours=2),
        retries=2,
    )
    def evaluate(
        db: str, config: str, data: str, task_name: str, label_names: str, tolerance: str,
        baseline: str, out_dir: str, day: str,
    ) -> dict:  # fmt: skip
        import json
        from datetime import date
        from pathlib import Path

        from finsentry import jobs

        if not data:
            return {"data_error": "set the Airflow Variable finsentry_eval_data to a labelled file"}
        if not Path(data).is_file():
            return {"data_error": f"labelled file {data} not found (finsentry_eval_data)"}
        settings = jobs.job_settings(db, config)
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
