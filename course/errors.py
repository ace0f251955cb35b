class ConfigError(ValueError):
    """A configuration value, flag or name the user gave is not one that is accepted."""
