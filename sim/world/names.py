"""Generated artist names, track titles and genre names (nothing is downloaded).

Names are built from small word lists with a numpy generator, so the same seed gives the same names.
Artist names are unique within a world: the service finds an artist's tracks by name.
"""

from __future__ import annotations

import numpy as np

_ADJECTIVES = (
    "Amber Ashen Blue Broken Burning Cold Crimson Crystal Dark Distant Electric Empty Endless "
    "Fading Falling Frozen Golden Hidden Hollow Iron Last Little Lonely Lost Lucky Midnight Neon "
    "Northern Pale Paper Quiet Red Restless Rusty Secret Silent Silver Slow Southern Static Sweet "
    "Velvet Wandering Wild Winter Young"
).split()
_NOUNS = (
    "Anchors Arrows Bells Birds Bones Cities Clouds Comets Crowns Dogs Dreams Engines Echoes "
    "Feathers Fires Flowers Foxes Ghosts Giants Harbors Hearts Horses Islands Kings Lanterns "
    "Lights "
    "Lions Machines Mirrors Moons Mountains Oceans Owls Pilots Rivers Robots Roses Sailors Shadows "
    "Signals Sparrows Stars Strangers Tigers Towers Trains Waves Wolves"
).split()
_SYLLABLES = (
    "ka lo mi ra ne to su va li an el or is ul ba de fi go hu ja ke ma no pe ri sa ti vo ze"
).split()
_TITLE_WORDS = (
    "love night day heart fire rain sun moon road home dream light dark time river city sky "
    "summer winter tonight forever again alone together gold stone glass paper wire storm ocean "
    "morning evening shadow echo signal ghost dance run fall rise wait stay leave burn shine"
).split()
_TITLE_FORMS = (
    "{a} {b}",
    "{a} and {b}",
    "{a} of {b}",
    "The {a}",
    "{a} {b} {c}",
    "No {a}",
    "{a} Again",
    "All the {a}",
)
_GENRE_ROOTS = (
    "rock pop jazz blues folk soul funk metal punk techno house disco reggae ambient trance "
    "hip-hop country gospel swing grunge dub indie synth lounge salsa tango bossa ska opera "
    "drill garage trap chillwave shoegaze"
).split()
_GENRE_PREFIXES = ("", "", "", "neo-", "post-", "dream-", "acid ", "nu-", "dark ", "lo-fi ")


def genre_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct genre names."""
    names: list[str] = []
    seen: set[str] = set()
    for root in rng.permutation(_GENRE_ROOTS):
        if len(names) == n:
            break
        names.append(str(root))
        seen.add(str(root))
    while len(names) < n:
        name = str(rng.choice(_GENRE_PREFIXES[3:])) + str(rng.choice(_GENRE_ROOTS))
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _made_up_word(rng: np.random.Generator) -> str:
    count = int(rng.integers(2, 4))
    return "".join(str(s) for s in rng.choice(_SYLLABLES, size=count)).capitalize()


def artist_names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` distinct artist names such as "The Silent Wolves" or "Kalomi"."""
    names: list[str] = []
    seen: set[str] = set()
    kinds = rng.integers(0, 3, size=n)
    for kind in kinds:
        if kind == 0:
            name = f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        elif kind == 1:
            name = f"{_made_up_word(rng)} {_made_up_word(rng)}"
        else:
            name = _made_up_word(rng)
        base, suffix = name, 2
        while name in seen:
            name = f"{base} {suffix}"
            suffix += 1
        seen.add(name)
        names.append(name)
    return names


def track_titles(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` track titles (not unique: many songs share a title)."""
    forms = rng.integers(0, len(_TITLE_FORMS), size=n)
    words = rng.integers(0, len(_TITLE_WORDS), size=(n, 3))
    titles = []
    for form, (a, b, c) in zip(forms.tolist(), words.tolist(), strict=True):
        titles.append(
            _TITLE_FORMS[form]
            .format(a=_TITLE_WORDS[a], b=_TITLE_WORDS[b], c=_TITLE_WORDS[c])
            .capitalize()
        )
    return titles
