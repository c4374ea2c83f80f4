"""botify.training: offline models trained from the service's event logs, and their evaluation.

Re-exports, loaded on first use so that ``botify`` commands that do not train skip importing torch.
"""

from importlib import import_module

_EXPORTS = {
    "ALS": "botify.training.als",
    "ContextualRanker": "botify.training.ranker",
    "Cooccurrence": "botify.training.cooccurrence",
    "MultiDAE": "botify.training.multidae",
    "TopTracks": "botify.training.popularity",
    "MODELS": "botify.registry",
    "TrainSettings": "botify.training.pipeline",
    "fit_models": "botify.training.pipeline",
    "run_evaluation": "botify.training.pipeline",
    "train": "botify.training.pipeline",
    "evaluate": "botify.training.evaluation",
    "format_table": "botify.training.evaluation",
    "load_events": "botify.training.dataset",
    "session_events": "botify.training.dataset",
    "split_by_time": "botify.training.dataset",
    "transitions": "botify.training.dataset",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
