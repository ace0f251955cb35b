"""Run the single experiment whose ``config.json`` is in RUN_DIR (a sweep's worker process).

Usage: python -m course.run_one RUN_DIR

Exit code 0 when the run finished (or had finished), 2 for a user error (its message is the last
line of the output, which the sweep shows), 1 for anything else.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import course  # noqa: F401  (silences Paddle's import warning before paddle is imported)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import paddle

    from course.config import RunConfig
    from course.experiment import run_experiment
    from course.sweep import describe
    from course.cli import USER_ERRORS

    threads = int(os.environ.get("PADDLE_OPT_LAB_THREADS", "0"))
    if threads:
        paddle.base.core.set_num_threads(threads)
    run_dir = Path(argv[0])
    try:
        result = run_experiment(RunConfig.load(run_dir / "config.json"), run_dir, progress=False)
    except USER_ERRORS as err:
        print(f"error: {err}", flush=True)
        return 2
    print(describe(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
