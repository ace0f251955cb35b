"""docs/fluid_to_paddle3.md: every Paddle 3 snippet runs, in order, in one session, as the page says.

Code blocks tagged ``python paddle3`` are the Paddle 3 forms (with asserts that check the
behaviour the page describes); ``python fluid`` blocks are the course's Paddle 1.8 code, shown
for comparison. Each fluid block must be followed by its Paddle 3 form.
"""
import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "fluid_to_paddle3.md"
BLOCK = re.compile(r"^```python (fluid|paddle3)\n(.*?)^```$", re.M | re.S)
# what the course's optimizer section calls, each of which the page must show in its fluid form
COURSE_CALLS = ["fluid.dygraph.guard", "Pool2D(", "pool_type='max'", "fluid.dygraph.to_variable",
                "fluid.layers.cross_entropy", "fluid.layers.mean", "SGDOptimizer(",
                "parameter_list=", ".minimize(", "fluid.save_dygraph", "fluid.layers.reshape",
                "act='softmax'", "clear_gradients()"]


def blocks():
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(PAGE.read_text(encoding="utf-8"))]


def test_each_fluid_snippet_has_its_paddle3_form_and_the_course_calls_are_all_there():
    kinds = [kind for kind, _ in blocks()]
    assert kinds.count("paddle3") >= 9
    assert all(after == "paddle3" for kind, after in zip(kinds, kinds[1:] + [None]) if kind == "fluid")
    fluid = "\n".join(code for kind, code in blocks() if kind == "fluid")
    assert [call for call in COURSE_CALLS if call not in fluid] == []
    paddle3 = "\n".join(code for kind, code in blocks() if kind == "paddle3")
    assert "fluid." not in paddle3 and "import paddle.fluid" not in paddle3


def test_every_paddle3_snippet_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                      # the save snippet writes mnist.pdparams here
    namespace = {}
    snippets = [code for kind, code in blocks() if kind == "paddle3"]
    for i, code in enumerate(snippets, 1):
        try:
            exec(compile(code, f"{PAGE.name} paddle3 block {i}", "exec"), namespace)
        except Exception as err:                                    # name the block that failed
            pytest.fail(f"Paddle 3 block {i} of {len(snippets)} failed: {type(err).__name__}: {err}")
    assert (tmp_path / "mnist.pdparams").is_file() and (tmp_path / "mnist.pdopt").is_file()


@pytest.mark.parametrize("chapter", ["ch3_loss", "ch4_optimizers", "ch5_devices", "ch7_resume"])
def test_the_chapters_that_replace_an_old_call_link_the_page(chapter):
    source = PAGE.parents[1] / "course" / "notebooks" / f"{chapter}.py"
    links = re.findall(r"\]\(([^)]*fluid_to_paddle3\.md)\)", source.read_text(encoding="utf-8"))
    assert links and all((source.parent / link).resolve() == PAGE for link in links)
