"""A run's own generator of Paddle's unique names, through Paddle's public ``paddle.utils.unique_name``.

Paddle names every parameter as it creates it (``linear_0.w_0``) and an optimizer names its state
at its first step (``linear_0.w_0_moment1_0``), counting from one generator per process: a second
model built in the same process gets ``linear_2.w_0``. Checkpoints are keyed by these names, so a
run builds its model and takes its steps under a generator of its own (``Trainer.names``), and a
model rebuilt in this process, or in a new one, gets the same names and loads the saved state.
"""
from __future__ import annotations

from paddle.utils import unique_name


def new_names():
    """A fresh generator for ``unique_name.guard``: names counted from zero again.

    ``paddle.utils.unique_name`` has no public constructor for one: ``switch()`` puts a fresh
    generator in place and returns the generator and parameter-name checker it replaced; switching
    those back returns the fresh pair, of which the generator is kept.
    """
    previous = unique_name.switch()
    fresh, _ = unique_name.switch(*previous)
    return fresh
