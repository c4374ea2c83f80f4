"""Exception classes of the botify package."""


class BotifyError(Exception):
    """Base class: an error with a message meant for the user, shown without a traceback."""


class ConfigError(BotifyError):
    """The configuration is malformed or names something that does not exist."""


class DataError(BotifyError):
    """An input file (catalog, artifact, event log) is malformed; the message names file, line."""


class StoreUnavailable(BotifyError):
    """Redis cannot be reached."""
