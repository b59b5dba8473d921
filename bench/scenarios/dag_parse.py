"""DAG parse time, measured the way Airflow's dag-processor parses a file.

The dag-processor's manager has Airflow imported; for each file it pre-imports the ``airflow.*``
modules the file names (``_pre_import_airflow_modules``), then forks a child that builds a
``BundleDagBag`` of that one file (``load_op_links=False``) and serialises its DAGs. So here: this
process imports Airflow, pre-imports per file, and every parse runs in a fresh ``os.fork()`` child,
so nothing the DAG file itself imports (the project's plugins and domain, yaml, ...) is cached
from one parse to the next. Timed in the child: the ``BundleDagBag`` of the file (``parse_ms``),
and separately the serialisation the processor does next (``serialize_ms``). Median of
``repeats`` parses per file; the empty DAG (one ``@task``, nothing else imported) is the floor.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

EMPTY_DAG = Path(__file__).resolve().parent / "empty_dag" / "bench_empty_dag.py"


def _parse_in_fork(path: Path) -> dict:
    """Fork; the child parses ``path`` and reports through a pipe; the parent waits for it."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, report, leave without running the parent's cleanup
        os.close(read_end)
        try:
            import structlog
            from airflow.dag_processing.dagbag import BundleDagBag
            from airflow.dag_processing.processor import _serialize_dags

            started = time.perf_counter()
            bag = BundleDagBag(
                dag_folder=str(path), bundle_path=path.parent, bundle_name="bench", load_op_links=False
            )
            parsed = time.perf_counter()
            _serialize_dags(bag, structlog.get_logger())
            serialized = time.perf_counter()
            out = {
                "parse_ms": (parsed - started) * 1000,
                "serialize_ms": (serialized - parsed) * 1000,
                "dag_ids": sorted(bag.dag_ids),
                "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
            }
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which raises
            out = {"exception": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(out).encode())
        os.close(write_end)
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    result = json.loads(b"".join(chunks) or b'{"exception": "child died"}')
    if "exception" in result or result["errors"]:
        raise RuntimeError(f"parsing {path} failed: {result.get('exception') or result['errors']}")
    return result


def _compile_project_bytecode() -> None:
    import compileall

    root = Path(__file__).resolve().parents[2]
    for folder in ("dags", "plugins", "include", EMPTY_DAG.parent):
        compileall.compile_dir(str(root / folder), quiet=1)


def parse_step(files: list[str], repeats: int) -> dict:
    import airflow  # noqa: F401 - the manager has Airflow imported before it forks
    import structlog
    from airflow.dag_processing.processor import _pre_import_airflow_modules

    # A dag-processor re-parses every file every few minutes; after its first parse the project's
    # modules have bytecode (Python writes it on import), so the steady state is measured. Written
    # here explicitly because PYTHONDONTWRITEBYTECODE (set on some machines) would otherwise make
    # every parse recompile the project's modules from source.
    _compile_project_bytecode()
    results = {}
    for name in [*files, str(EMPTY_DAG)]:
        path = Path(name).resolve()
        _pre_import_airflow_modules(str(path), structlog.get_logger())
        _parse_in_fork(path)  # warm the page cache and the parent's pre-imports; not counted
        runs = [_parse_in_fork(path) for _ in range(repeats)]
        parse = [r["parse_ms"] for r in runs]
        results[str(path)] = {
            "file": path.name,
            "dag_ids": runs[0]["dag_ids"],
            "parse_ms": round(statistics.median(parse), 1),
            "parse_min_ms": round(min(parse), 1),
            "parse_max_ms": round(max(parse), 1),
            "serialize_ms": round(statistics.median(r["serialize_ms"] for r in runs), 1),
            "repeats": repeats,
            "empty": path == EMPTY_DAG,
        }
    return {"files": list(results.values())}
