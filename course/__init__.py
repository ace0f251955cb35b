"""The training engine: config, optimizers, trainer loop, callbacks, schedules, sweeps and reports.

Chapter scripts and command-line tools import this package; it imports ``data`` and ``models``.
"""
import warnings

# Paddle warns about a missing ccache on import; it matters only to people compiling C++ extensions.
warnings.filterwarnings("ignore", message="No ccache found")
