"""The one exception type the CLI turns into a one-line message and exit status 2."""


class UsageError(Exception):
    """Bad input from the user (a flag, a file, a folder): reported in one line, exit status 2."""
