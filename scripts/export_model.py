#!/usr/bin/env python
"""Export a finished run's model for inference (the course's chapter 9, 模型保存).

Rebuilds the network from RUN_DIR/config.json, loads its final weights RUN_DIR/model.pdparams and
writes, with paddle.jit.save, PREFIX.json (the program) and PREFIX.pdiparams (the weights), plus
PREFIX_meta.json (input shape, class names, preprocessing) for scripts/predict.py. The export is
loaded back and checked against the trained model before the command reports success.

examples:
  python scripts/export_model.py runs/mnist-lenet/adam-lr0.001-seed0
  python scripts/export_model.py runs/mnist-lenet/adam-lr0.001-seed0 --out lenet/model
  python scripts/predict.py digit.png --export runs/mnist-lenet/adam-lr0.001-seed0/export/model
  python scripts/export_model.py --dry-run          # smoke test: an untrained LeNet, temp folder
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")   # Paddle's C++ executor logs INFO lines to stderr

from course.cli import CommandLine, Launch, run_main
from course.engine.errors import ConfigError


def main(argv=None) -> int:
    from course.tools.export import export_run

    cl = CommandLine(__doc__)
    cl.parser.add_argument("run_dir", nargs="?", help="a run directory (holds config.json and model.pdparams)")
    cl.parser.add_argument("--out", default="", help="path prefix of the export ('' = RUN_DIR/export/model)")
    cl.parser.add_argument("--weights", default="",
                           help="weights file ('' = RUN_DIR/model.pdparams; or e.g. RUN_DIR/best.pdckpt)")
    cl.settings("smoke test", Launch, "dry_run")
    args = cl.parse(argv)
    if args.run_dir is None and not args.dry_run:
        raise ConfigError("give a RUN_DIR to export (or --dry-run for a smoke test)")
    meta, files, gap = export_run(args.run_dir, args.out or None, args.weights or None, args.dry_run)
    print(f"exported {meta['model_name']} (input {tuple(meta['input_shape'])}, "
          f"{len(meta['class_names'])} classes, preprocessing '{meta['preprocess']}'); "
          f"round trip max |diff| {gap:.1e}")
    for path in files:
        print(f"  {path}" + ("  (dry run: removed)" if args.dry_run else ""))
    if not args.dry_run:
        prefix = args.out or Path(args.run_dir) / "export" / "model"
        print(f"predict: python scripts/predict.py IMAGE.png --export {prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
