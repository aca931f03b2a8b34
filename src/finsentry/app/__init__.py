"""Application features built on the pipeline: the demo, the simulator and backtests, the daily
report, the summary printed after a run, model evaluation, and what the Airflow DAGs call
(``jobs``; ``dagwiring`` is what the DAG files import at parse time, standard library only).

The pipeline's stages (sources, validation, de-duplication, tagging, scoring, aggregation, the
store, detection and alerts) live at the top of the package; nothing there imports from here.
"""
