"""Errors that reach the user as one clear line instead of a traceback."""


class UsageError(ValueError):
    """Bad input from the user: the message names what was expected and what was given.

    The CLI prints it as a single line and exits with code 2; the Python API raises it.
    """
