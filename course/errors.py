class ConfigError(ValueError):
    """A configuration value, flag or name the user gave is not one that is accepted."""


class SweepError(RuntimeError):
    """A sweep could not finish every run: some failed (each run's train.log says why), or a
    worker process could not start. The runs that finished are kept; the same command continues."""
