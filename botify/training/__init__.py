"""botify.training: offline models trained from the service's event logs, and their evaluation."""

from botify.training.als import ALS
from botify.training.cooccurrence import Cooccurrence
from botify.training.dataset import load_events, sessionize, split_by_time, transitions
from botify.training.evaluation import evaluate, format_table
from botify.training.multidae import MultiDAE
from botify.training.pipeline import MODELS, TrainSettings, fit_models, run_evaluation, train
from botify.training.popularity import TopTracks
from botify.training.ranker import ContextualRanker

__all__ = [
    "ALS",
    "MODELS",
    "ContextualRanker",
    "Cooccurrence",
    "MultiDAE",
    "TopTracks",
    "TrainSettings",
    "evaluate",
    "fit_models",
    "format_table",
    "load_events",
    "run_evaluation",
    "sessionize",
    "split_by_time",
    "train",
    "transitions",
]
