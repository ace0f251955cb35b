#!/usr/bin/env python
"""Export a finished run's model for inference (the course's chapter 9, 模型保存).

Rebuilds the network from RUN_DIR/config.json, loads its final weights RUN_DIR/model.pdparams and
writes, with paddle.jit.save, PREFIX.json (the program) and PREFIX.pdiparams (the weights), plus
PREFIX_meta.json (input shape, class names, preprocessing) for scripts/predict.py. The export is
loaded back and checked against the trained model before the command reports success.

examples:
  python scripts/export_model.py runs/mnist-lenet/adam-lr0.001-seed0
  python scripts/export_model.py runs/mnist-lenet/adam-lr0.001-seed0 --out lenet/model
  python scripts/predict.py digit.png --model runs/mnist-lenet/adam-lr0.001-seed0/export/model
  python scripts/export_model.py --dry-run          # smoke test: an untrained LeNet, temp folder
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("GLOG_minloglevel", "2")   # Paddle's C++ executor logs INFO lines to stderr

import course  # noqa: E402,F401  (quiets Paddle's import warning)
from course.cli import HelpFormatter, run_main  # noqa: E402
from course.errors import ConfigError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("run_dir", nargs="?", help="a run directory (holds config.json and model.pdparams)")
    p.add_argument("--out", default="", help="path prefix of the export ('' = RUN_DIR/export/model)")
    p.add_argument("--weights", default="",
                   help="weights file ('' = RUN_DIR/model.pdparams; or e.g. RUN_DIR/best.pdparams)")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: export into a temporary folder and check it, keep nothing "
                        "(without RUN_DIR: an untrained LeNet)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.run_dir is None and not args.dry_run:
        raise ConfigError("give a RUN_DIR to export (or --dry-run for a smoke test)")
    import numpy as np
    import paddle
    from course.export import export_model, exported_files, load_exported, model_from_run

    if args.run_dir is not None:
        model, input_shape, classes = model_from_run(args.run_dir, args.weights or None)
    else:
        from models import build_model
        model, input_shape, classes = build_model("lenet"), (1, 28, 28), None
    with tempfile.TemporaryDirectory() as tmp:
        if args.dry_run:
            prefix = Path(tmp) / "model"
        else:
            prefix = Path(args.out) if args.out else Path(args.run_dir) / "export" / "model"
        meta = export_model(model, input_shape, prefix, classes)
        # Check the round trip: the exported program must give the trained model's logits.
        layer, _ = load_exported(prefix)
        probe = paddle.to_tensor(np.random.default_rng(0).random((4, *input_shape), dtype="float32"))
        model.eval()
        with paddle.no_grad():
            gap = float(np.abs(layer(probe).numpy() - model(probe).numpy()).max())
        if gap > 1e-4:
            raise RuntimeError(f"exported model differs from the trained one by {gap:g}")
        print(f"exported {meta['model_name']} (input {tuple(meta['input_shape'])}, "
              f"{len(meta['class_names'])} classes, preprocessing '{meta['preprocess']}'); "
              f"round trip max |diff| {gap:.1e}")
        for path in exported_files(prefix):
            print(f"  {path}" + ("  (dry run: removed)" if args.dry_run else ""))
    if not args.dry_run:
        print(f"predict: python scripts/predict.py IMAGE.png --model {prefix}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
