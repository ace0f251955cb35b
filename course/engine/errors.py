"""The engine's error types, and the tuple of errors that are the user's mistake.

A user error (a bad flag value, a missing file, an unknown name) is shown as one line
``error: <message>`` with exit code 2 (``course.cli.run_main``); a sweep worker reports it the same
way (``course.sweep.workers``). Anything else is a bug and keeps its traceback.
"""
from data.errors import DataError
from models.errors import ModelError


class ConfigError(ValueError):
    """A configuration value, flag or name the user gave is not one that is accepted."""


class SweepError(RuntimeError):
    """A sweep could not finish every run: some failed (each run's train.log says why), or a
    worker process could not start. The runs that finished are kept; the same command continues."""


USER_ERRORS = (ConfigError, DataError, ModelError, FileNotFoundError)
