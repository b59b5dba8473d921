"""Entry point of a measured step: ``python -m bench.common.child module:function args.json out.json``.

Imports nothing of the project before the step's own module, so the step's peak RSS is what the
step needs. The result file gets the function's dict plus ``vm_hwm_mb``, the process's
own peak RSS as the kernel counts it since ``exec`` (see ``bench.common.proc`` for why not
``ru_maxrss``).

``BENCH_PROFILE=<part of a target>`` runs the matching steps under cProfile and writes
``<BENCH_PROFILE_DIR or .>/<function>_<pid>.prof`` (read with ``python -m pstats``): where a step's
time goes, in the same run that measured it. Off by default (profiling slows a step down).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from pathlib import Path


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak RSS (``VmHWM``) of process ``pid`` in MB, or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def main() -> int:
    target, args_path, out_path = sys.argv[1:4]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    module_name, function_name = target.split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    kwargs = json.loads(Path(args_path).read_text())
    wanted = os.environ.get("BENCH_PROFILE")
    if wanted and wanted in target:
        import cProfile

        profile = cProfile.Profile()
        result = profile.runcall(function, **kwargs)
        out_dir = Path(os.environ.get("BENCH_PROFILE_DIR", "."))
        out_dir.mkdir(parents=True, exist_ok=True)
        profile.dump_stats(out_dir / f"{function_name}_{os.getpid()}.prof")
    else:
        result = function(**kwargs)
    result = dict(result or {})
    result["vm_hwm_mb"] = vm_hwm_mb()
    Path(out_path).write_text(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
