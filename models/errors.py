"""The one error type the models package raises for user mistakes."""


class ModelError(ValueError):
    """A bad model name, model argument or weights file.

    The message is one line that names what was wrong and what was expected
    (for an unknown model name: the valid choices), so the CLI scripts can
    print it as ``error: <message>`` without a traceback.
    """
