"""Benchmarks of the optimizer lab (see bench/README.md)."""
import warnings

warnings.filterwarnings("ignore", message="No ccache found")
