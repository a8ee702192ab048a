"""Errors a user can act on: the message says what went wrong and what to do next."""


class UserError(Exception):
    """Raised for bad input or missing prerequisites; the CLI prints it without a traceback."""
