"""The one exception type of the data layer.

Every user mistake the data layer can detect (a missing or damaged file, a wrong nesting,
an unknown split name, a checksum mismatch) raises ``DataError`` with a one-line message
that names the file or argument and says what was expected, e.g.::

    DataError: /home/me/mnist.json.gz: image 17 of split 'train' has 783 values, expected 784 (28x28)

Command-line scripts catch it, print ``error: <message>`` on stderr and exit with code 2.
It subclasses ``ValueError`` so generic callers that already catch ``ValueError`` keep working.
"""


class DataError(ValueError):
    """A bad data file, folder, split or data argument; the message is one line."""
