"""A/B experiments: deterministic assignment of users to treatments.

An experiment has a name and n treatments; treatment 0 is the control ``C``, treatment i > 0 is
``T{i}``. The assignment is the course's, bit for bit::

    salt = mmh3.hash(name)                      # signed 32-bit murmur3, seed 0
    bucket = mmh3.hash(str(user), salt & 0xFFFFFFFF, signed=False) % n

The course ran mmh3 3.0, which took a negative seed as unsigned; mmh3 5 raises on one, hence the
mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mmh3

from botify.errors import ConfigError

CONTROL = "C"


def treatment_name(index: int) -> str:
    """``C`` for treatment 0, ``T{i}`` for treatment i > 0."""
    return CONTROL if index == 0 else f"T{index}"


def experiment_salt(name: str) -> int:
    """The seed experiment ``name`` hashes users with: its murmur3 hash as unsigned 32 bits."""
    return mmh3.hash(name) & 0xFFFFFFFF


def user_hash(name: str, user: int) -> int:
    """The unsigned 32-bit hash of ``user`` in experiment ``name``, before the modulo."""
    return mmh3.hash(str(user), experiment_salt(name), signed=False)


@dataclass(frozen=True)
class Experiment:
    """An experiment and the recommender that serves each of its treatments.

    Attributes:
        name: the experiment's name (it determines the salt).
        recommenders: one recommender name per treatment; index 0 is the control.
    """

    name: str
    recommenders: tuple[str, ...]
    salt: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.recommenders:
            raise ConfigError(f"experiment {self.name!r} has no treatments")
        object.__setattr__(self, "salt", experiment_salt(self.name))

    @property
    def treatments(self) -> tuple[str, ...]:
        """The treatment names, ``("C", "T1", ...)``."""
        return tuple(treatment_name(i) for i in range(len(self.recommenders)))

    def bucket(self, user: int) -> int:
        """The treatment index of ``user``."""
        return mmh3.hash(str(user), self.salt, signed=False) % len(self.recommenders)

    def assign(self, user: int) -> str:
        """The treatment name of ``user`` (``C``, ``T1``, ...)."""
        return treatment_name(self.bucket(user))


class Experiments:
    """The configured experiments: which treatment each user is in, and who serves the request.

    Args:
        experiments: experiment name -> recommender names, one per treatment.
        active: the experiment whose assignment routes requests.
        known_recommenders: the configured recommender names, to reject a typo at startup.

    Raises:
        ConfigError: the active experiment is not listed, an experiment is empty, or it names a
            recommender that is not configured.
    """

    def __init__(
        self,
        experiments: Mapping[str, Sequence[str]],
        active: str,
        known_recommenders: Sequence[str] | None = None,
    ) -> None:
        if not isinstance(experiments, Mapping) or not experiments:
            raise ConfigError(
                "EXPERIMENTS must map at least one experiment name to recommender names"
            )
        self.experiments: tuple[Experiment, ...] = ()
        for name, recommenders in experiments.items():
            if isinstance(recommenders, str) or not isinstance(recommenders, Sequence):
                raise ConfigError(f"EXPERIMENTS[{name!r}] must be a list of recommender names")
            experiment = Experiment(str(name), tuple(str(r) for r in recommenders))
            if known_recommenders is not None:
                unknown = [r for r in experiment.recommenders if r not in known_recommenders]
                if unknown:
                    raise ConfigError(
                        f"EXPERIMENTS[{name!r}] names recommender(s) {', '.join(unknown)} "
                        f"not in RECOMMENDERS ({', '.join(known_recommenders) or 'none'})"
                    )
            self.experiments += (experiment,)
        by_name = {e.name: e for e in self.experiments}
        if active not in by_name:
            raise ConfigError(
                f"ACTIVE_EXPERIMENT {active!r} is not one of EXPERIMENTS ({', '.join(by_name)})"
            )
        self.active = by_name[active]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Experiments:
        """Build from ``EXPERIMENTS``, ``ACTIVE_EXPERIMENT`` and the configured recommenders (the
        built-ins and ``RECOMMENDERS``)."""
        from botify.recommenders.registry import configured

        return cls(
            config.get("EXPERIMENTS") or {},
            str(config.get("ACTIVE_EXPERIMENT")),
            list(configured(config)),
        )

    def route(self, user: int) -> tuple[str, dict[str, str]]:
        """Where ``user``'s request goes.

        Returns:
            The name of the recommender that serves it (by the active experiment), and the user's
            treatment in every experiment, for the event log.
        """
        key = str(user)
        assignments: dict[str, str] = {}
        recommender = ""
        for experiment in self.experiments:
            index = mmh3.hash(key, experiment.salt, signed=False) % len(experiment.recommenders)
            assignments[experiment.name] = treatment_name(index)
            if experiment is self.active:
                recommender = experiment.recommenders[index]
        return recommender, assignments
