"""Column names of the analysis tables (sessions, per-user metrics, effects), in one place."""

from __future__ import annotations

# Sessions and per-user aggregates.
USER = "user"
TREATMENT = "treatment"
SESSION_START = "timestamp"
TRACKS = "tracks"
TIME = "time"
LATENCY = "latency"
SESSIONS = "sessions"

# The per-user session metrics, in the course's order.
MEAN_REQUEST_LATENCY = "mean_request_latency"
MEAN_TRACKS_PER_SESSION = "mean_tracks_per_session"
MEAN_TIME_PER_SESSION = "mean_time_per_session"
METRICS = (TIME, SESSIONS, MEAN_REQUEST_LATENCY, MEAN_TRACKS_PER_SESSION, MEAN_TIME_PER_SESSION)

# The effects table: the course's columns first, then what this toolkit adds.
METRIC = "metric"
EFFECT = "effect"
LOWER = "lower"
UPPER = "upper"
CONTROL_MEAN = "control_mean"
TREATMENT_MEAN = "treatment_mean"
SIGNIFICANT = "significant"
P_VALUE = "p_value"
RECOMMENDER = "recommender"
CONTROL_USERS = "control_users"
TREATMENT_USERS = "treatment_users"
DOF = "dof"
P_VALUE_HOLM = "p_value_holm"
SIGNIFICANT_HOLM = "significant_holm"
CUPED = "cuped"
REASON = "reason"
DIRECTION = "direction"
# The always-valid (sequential) interval beside the fixed one, in % of the control mean, and its
# p-values (NaN unless asked for).
SEQ_LOWER = "seq_lower"
SEQ_UPPER = "seq_upper"
SEQ_P_VALUE = "seq_p_value"
SEQ_P_VALUE_HOLM = "seq_p_value_holm"

EFFECT_COLUMNS = (
    TREATMENT, METRIC, EFFECT, LOWER, UPPER, CONTROL_MEAN, TREATMENT_MEAN, SIGNIFICANT, P_VALUE,
)
EXTRA_COLUMNS = (
    RECOMMENDER, CONTROL_USERS, TREATMENT_USERS, DOF, P_VALUE_HOLM, SIGNIFICANT_HOLM, CUPED, REASON,
    DIRECTION, SEQ_LOWER, SEQ_UPPER, SEQ_P_VALUE, SEQ_P_VALUE_HOLM,
)
ALL_EFFECT_COLUMNS = EFFECT_COLUMNS + EXTRA_COLUMNS

# Session length over time.
TIME_SE = "time_se"
OVER_TIME_COLUMNS = (TREATMENT, SESSION_START, SESSIONS, TIME, TIME_SE, TRACKS)

# The guardrails' checks: one row per treatment and guardrail (differences in the metric's units).
MARGIN = "margin"
STATUS = "status"
DIFFERENCE = "difference"
WORST = "worst"
WORST_EFFECT = "worst_effect"
LIMIT = "limit"
GUARDRAIL_COLUMNS = (
    TREATMENT, METRIC, MARGIN, STATUS, DIFFERENCE, EFFECT, WORST, WORST_EFFECT, LIMIT, P_VALUE,
    REASON,
)

# The decisions: one row per treatment, on the primary metric.
DECISION = "decision"
DECISION_COLUMNS = (
    TREATMENT, RECOMMENDER, METRIC, EFFECT, LOWER, UPPER, P_VALUE_HOLM, SEQ_LOWER, SEQ_UPPER,
    SEQ_P_VALUE_HOLM, DECISION, REASON,
)

# Segments: the segment's label in front of a table's rows.
SEGMENT = "segment"

