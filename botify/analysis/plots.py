"""Figures of the A/B analysis and the log exploration (matplotlib, Agg backend: no display)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from botify.analysis import columns as col  # noqa: E402
from botify.analysis.looks import LOOK  # noqa: E402
from botify.analysis.metrics import HIGHER_BETTER, LOWER_BETTER  # noqa: E402

GREEN = "#2e7d32"
RED = "#c62828"
GREY = "#757575"


def _label(treatment: str, recommender: str | None) -> str:
    return f"{treatment} ({recommender})" if recommender else str(treatment)


def _color(row: pd.Series) -> str:
    """Green for a significant improvement (by the metric's direction), red for a significant
    regression, grey otherwise."""
    if not row[col.SIGNIFICANT]:
        return GREY
    better = row.get(col.DIRECTION, HIGHER_BETTER) == HIGHER_BETTER
    return GREEN if (row[col.EFFECT] > 0) == better else RED


def plot_effects(effects: pd.DataFrame, title: str = "", first: str | None = None) -> Figure:
    """Each metric's effects with their intervals, one row per treatment, in % of the control.

    A point is green when the interval excludes 0 on the metric's better side, red on its worse
    side, grey when not significant; metrics where lower is better are marked so. ``first``
    (the primary metric) is drawn at the top.
    """
    metrics = list(dict.fromkeys(effects[col.METRIC]))
    if first in metrics:
        metrics.remove(first)
        metrics.insert(0, first)
    height = 1.0 + max(len(metrics), 1) * (0.6 + 0.35 * effects[col.TREATMENT].nunique())
    fig, axes = plt.subplots(max(len(metrics), 1), 1, figsize=(8, height), squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics, strict=False):
        rows = effects[effects[col.METRIC] == metric].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        for position, (_, row) in zip(y, rows.iterrows(), strict=True):
            color = _color(row)
            if np.isfinite(row[col.LOWER]) and np.isfinite(row[col.UPPER]):
                ax.errorbar(
                    row[col.EFFECT], position,
                    xerr=[[row[col.EFFECT] - row[col.LOWER]], [row[col.UPPER] - row[col.EFFECT]]],
                    fmt="o", color=color, capsize=4,
                )
            elif np.isfinite(row[col.EFFECT]):
                ax.plot(row[col.EFFECT], position, "x", color=GREY)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(
            [_label(t, r) for t, r in zip(rows[col.TREATMENT], rows[col.RECOMMENDER], strict=True)]
        )
        ax.set_ylim(-0.7, len(rows) - 0.3)
        lower = rows[col.DIRECTION].eq(LOWER_BETTER).any() if col.DIRECTION in rows else False
        ax.set_title(f"{metric} (lower is better)" if lower else metric, fontsize=10, loc="left")
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("effect, % of the control mean")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_looks(looks: pd.DataFrame, metric: str) -> Figure:
    """The primary metric's effect at each look, per treatment: the fixed-horizon interval as a
    band, the always-valid one as dashed lines around it."""
    treatments = list(dict.fromkeys(looks[col.TREATMENT]))
    columns = min(len(treatments), 4) or 1
    rows = max(-(-len(treatments) // columns), 1)
    fig, axes = plt.subplots(rows, columns, figsize=(8, 0.4 + 2.1 * rows), squeeze=False,
                             sharex=True)
    for ax in axes.ravel()[len(treatments):]:
        ax.set_visible(False)
    for ax, treatment in zip(axes.ravel(), treatments, strict=False):
        part = looks[looks[col.TREATMENT] == treatment].sort_values(LOOK)
        x = part[LOOK].to_numpy()
        ax.fill_between(x, part[col.LOWER], part[col.UPPER], color="#1565c0", alpha=0.25,
                        label="fixed")
        ax.plot(x, part[col.SEQ_LOWER], "--", color="#1565c0", linewidth=1, label="always-valid")
        ax.plot(x, part[col.SEQ_UPPER], "--", color="#1565c0", linewidth=1)
        ax.plot(x, part[col.EFFECT], "o-", color="black", markersize=3)
        ax.axhline(0, color=GREY, linewidth=0.8)
        ax.set_title(treatment, fontsize=9, loc="left")
        ax.tick_params(labelsize=8)
        ax.set_xticks(x)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("look", fontsize=8)
    fig.suptitle(f"{metric}: effect (% of the control mean) at each look", fontsize=10)
    fig.tight_layout()
    return fig


def plot_session_length_over_time(
    over_time: pd.DataFrame, treatment: str, control: str | None = None, recommender: str = ""
) -> Figure:
    """Mean session time of one treatment over time, with a 95% band; the control dashed."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    lines = [(treatment, "-", "#1565c0")]
    if control is not None and control != treatment:
        lines.insert(0, (control, "--", GREY))
    for name, style, color in lines:
        rows = over_time[over_time[col.TREATMENT] == name]
        when = pd.to_datetime(rows[col.SESSION_START].to_numpy(dtype=np.int64), unit="ms")
        mean = rows[col.TIME].to_numpy(dtype=np.float64)
        ax.plot(when, mean, style, color=color, marker=".", label=_label(name, None))
        if name == treatment:
            band = 1.96 * rows[col.TIME_SE].fillna(0).to_numpy(dtype=np.float64)
            ax.fill_between(when, mean - band, mean + band, color=color, alpha=0.2)
    ax.set_ylabel("mean session time")
    ax.set_title(f"Session length over time: {_label(treatment, recommender)}", loc="left")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def plot_popularity(popularity: pd.DataFrame, value: str = "plays") -> Figure:
    """Track popularity by rank (log-log): how long the tail is."""
    fig, ax = plt.subplots(figsize=(6, 4))
    counts = np.sort(popularity[value].to_numpy())[::-1]
    ax.loglog(np.arange(1, len(counts) + 1), counts, ".", markersize=2)
    ax.set_xlabel("track rank")
    ax.set_ylabel(value)
    ax.set_title("Track popularity", loc="left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_histogram(values: np.ndarray, title: str, xlabel: str, bins: int = 50) -> Figure:
    """A histogram of ``values`` (session lengths, listened fractions...)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist(np.asarray(values, dtype=np.float64), bins=bins, color="#1565c0", alpha=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(title, loc="left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save(fig: Figure, path) -> None:
    """Save a figure as PNG and release it."""
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)
