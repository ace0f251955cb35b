"""The layout's rules, checked on the source: imports flow one way, settings are declared once,
entry points stay thin, files stay small, public functions say what they do.

data, models  ->  course.compat, course.speed  ->  course.engine  ->
course.sweep, course.tools, course.cli  ->  course.chapters
->  scripts, bench. A module may import its own layer and the layers before it, never a later
one, and no chain of imports (lazy ones inside functions included) may lead back to where it
started.
"""
import ast
import dataclasses
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data", "models", "course", "scripts", "bench")
LAYERS = [("data", "models"), ("course.compat", "course.speed"), ("course.engine",),
          ("course.sweep", "course.tools", "course.cli"),
          ("course.chapters",), ("scripts", "bench")]
ENTRY_POINT_LINES = 60
FILE_LINES = 350


def source_files():
    # course/notebooks/*.py are the chapter notebooks' jupytext sources, not modules.
    notebooks = ROOT / "course" / "notebooks"
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if notebooks not in p.parents)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in source_files()}


def imports_of(path: Path) -> set:
    """The project modules ``path`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom):   # relative: from .x import y
            package = module_name(path).rsplit(".", node.level - (path.name == "__init__.py"))[0]
            base = f"{package}.{node.module}" if node.module else package
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found - {module_name(path)}


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer(name: str) -> int:
    if name == "course":   # the package's __init__: one warnings filter, imported by all
        return 0
    return next(i for i, prefixes in enumerate(LAYERS)
                if any(name == p or name.startswith(p + ".") for p in prefixes))


def test_imports_never_point_to_a_later_layer():
    wrong = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets if layer(b) > layer(a)]
    assert not wrong, "\n".join(wrong)


def test_sweep_tools_and_cli_do_not_import_each_other_and_data_models_stay_apart():
    siblings = [("course.sweep", "course.tools"), ("course.tools", "course.sweep"),
                ("course.cli", "course.sweep"), ("course.cli", "course.tools"),
                ("data", "models"), ("models", "data")]
    wrong = [f"{a} imports {b}" for a, targets in GRAPH.items() for b in targets
             for x, y in siblings if a.startswith(x) and b.startswith(y)]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    state, circles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            if state.get(target) == "open":
                circles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)


def test_the_layer_rules_can_fail():
    # The checks above must see a real arrow: the engine does import data, and chapters the engine.
    assert "data.batches" in GRAPH["course.engine.data"]
    assert any(t.startswith("course.engine") for t in GRAPH["course.chapters.ch4_optimizers"])


def test_no_setting_is_declared_by_hand():
    """Every flag named after a RunConfig, Sweep or Launch field is generated from that field."""
    from course.cli import Launch
    from course.engine.config import RunConfig, flag
    from course.sweep.grid import Sweep

    fields = {flag(f.name) for cls in (RunConfig, Sweep, Launch) for f in dataclasses.fields(cls)}
    fields |= {"--no-" + f[2:] for f in fields}
    by_hand = [f"{path.relative_to(ROOT)}: {m.group(1)}" for path in source_files()
               for m in re.finditer(r"add_argument\(\s*[\"'](--[\w-]+)", path.read_text(encoding="utf-8"))
               if m.group(1) in fields]
    assert not by_hand, "\n".join(by_hand)


@pytest.mark.parametrize("path", sorted((ROOT / "scripts").glob("*.py")), ids=lambda p: p.name)
def test_entry_points_are_thin(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < ENTRY_POINT_LINES


def test_files_stay_small():
    big = [f"{p.relative_to(ROOT)}: {n}" for p in source_files()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > FILE_LINES]
    assert not big, "\n".join(big)


def test_every_public_function_and_class_has_a_docstring():
    """Module-level functions and classes, and their methods (a method that overrides a
    documented one inherits its docstring, as ``inspect.getdoc`` reads it)."""
    import importlib
    import inspect

    missing = []
    for name in sorted(n for n in MODULES if layer(n) < len(LAYERS) - 1):
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not inspect.getdoc(obj):
                missing.append(f"{name}.{attr}")
            if inspect.isclass(obj):
                missing += [f"{name}.{attr}.{m}" for m, member in vars(obj).items()
                            if not m.startswith("_") and inspect.isfunction(member)
                            and not inspect.getdoc(getattr(obj, m))]
    assert not missing, "\n".join(missing)


# Paddle's internals (its private modules, and private members of its layers and optimizers) and
# the native libraries in its wheel: what a Paddle upgrade may change.
PRIVATE_PADDLE = re.compile(r"_C_ops|_grad_ivar|paddle\.base|paddle\.fluid|_current_expected_place"
                            r"|_parameter_list|_create_accumulators|_global_learning_rate|nn\.layer\.|_BatchNormBase"
                            r"|[.'\"]_learning_rate\b|\._buffers|_forward_(pre|post)_hooks"
                            r"|libdnnl|libiomp|mallopt")


def test_private_paddle_apis_live_in_the_speed_package_only():
    """Models, engine, tools, scripts and the notebooks' sources use public Paddle only."""
    speed = ROOT / "course" / "speed"
    files = source_files() + sorted((ROOT / "course" / "notebooks").rglob("*.py"))
    found = [f"{p.relative_to(ROOT)}:{i}" for p in files if speed not in p.parents
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if PRIVATE_PADDLE.search(line)]
    assert not found, "\n".join(found)
    assert any(PRIVATE_PADDLE.search(p.read_text(encoding="utf-8")) for p in speed.glob("*.py"))


FUNCTION_LINES = 60


def test_no_function_is_longer_than_60_lines():
    """A function a reader takes in at once: its whole body, docstring included, on one screen."""
    long = []
    for path in source_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    assert not long, "\n".join(long)
