"""Exceptions that carry a message meant for the person using ttv.

Every error raised on bad *input* (a data folder, a config field, a command-line argument) is a
:class:`TTVError`. Its message names the file or field, says what was wrong and what to do, so the
command line and the dashboard can show it as it is, without a traceback. Anything else that escapes
is a bug in ttv.
"""

from __future__ import annotations


class TTVError(Exception):
    """Base class of the errors whose message is written for the user."""


class DataError(TTVError, ValueError):
    """A training-dynamics source (folder, file, Hub repo) is missing, malformed or inconsistent."""


class TrustRequiredError(TTVError):
    """Reading this source would run code shipped with the data, and the user has not allowed it."""


class ConfigError(TTVError, ValueError):
    """A configuration value is outside its allowed range.

    When one named setting is at fault, ``parameter`` is its name and ``requirement`` the message's
    rest ("must be an int in the range [2, 2000]. Got 40000 instead. ..."), so that the command line
    can name it as the user typed it (``--resolution must be ...``) instead of by its field.
    """

    parameter: str | None = None
    requirement: str | None = None
