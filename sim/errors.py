"""Exception class of the simulator."""


class SimError(Exception):
    """A user error of the simulator: a missing or malformed world, an unreachable service, ...

    ``python -m sim.run`` (and ``botify``, for the commands that run the simulator in-process)
    prints it as one line, without a traceback.
    """
