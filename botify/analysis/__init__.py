"""A/B analysis: sessions, per-user metrics, Welch intervals, SRM, Holm, CUPED, reports."""

from botify.analysis.aa import AATest, aa_test
from botify.analysis.analyze import Analysis, analyze, experiment_assignment
from botify.analysis.report import effects_table, styled_effects, write_report
from botify.analysis.sessions import (
    Sessions,
    session_length_over_time,
    sessionize,
    sessionize_events,
    user_metrics,
)
from botify.analysis.stats import (
    Cuped,
    Effect,
    SampleStats,
    SrmCheck,
    cuped_fit,
    holm,
    srm_check,
    welch_effect,
)

__all__ = [
    "AATest",
    "Analysis",
    "Cuped",
    "Effect",
    "SampleStats",
    "Sessions",
    "SrmCheck",
    "aa_test",
    "analyze",
    "cuped_fit",
    "effects_table",
    "experiment_assignment",
    "holm",
    "session_length_over_time",
    "sessionize",
    "sessionize_events",
    "srm_check",
    "styled_effects",
    "user_metrics",
    "welch_effect",
    "write_report",
]
