"""The course: the training engine, the sweeps and tools built on it, and the chapters.

Importing it sets how warnings read for a learner: one plain line each (no source line), and
none of Paddle's notes that say nothing about the learner's run.
"""
import os
import warnings

# Paddle's C++ core logs INFO lines ("New Executor is Running ...") to stderr; set before Paddle is
# imported, which every entry point does after importing this package.
os.environ.setdefault("GLOG_minloglevel", "2")

# Paddle warns about a missing ccache on import; it matters only to people compiling C++ extensions.
warnings.filterwarnings("ignore", message="No ccache found")
# BatchNorm's note that it tracks global statistics in training mode: what it always does.
warnings.filterwarnings("ignore", message="When training, we now always track global mean and variance")
# auto_cast on a CPU, at every forward pass: it does nothing there (precision.check_amp says so once).
warnings.filterwarnings("ignore", message="amp_guard can only be enabled")


def _one_line(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


warnings.formatwarning = _one_line
