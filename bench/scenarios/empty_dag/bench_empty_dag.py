"""The parse-time floor: a DAG with one task and no import besides the Task SDK's ``dag``/``task``."""

from airflow.sdk import dag, task


@dag(dag_id="bench_empty_dag", schedule=None)
def bench_empty_dag():
    @task
    def nothing() -> None:
        pass

    nothing()


bench_empty_dag()
