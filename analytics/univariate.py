"""Scoring one series on its own (`timestamp,value`): how unusual each point is, from 0 to 1.

Each point is described by features over a trailing window (its value, its distance from the
window's median in robust units, the window's spread, the step from the previous point). HBOS
(pyod) learns what normal looks like from the points before and scores each point on its own.
(ECOD, tried first, scores a batch against itself, so a point's score would depend on the points
after it.) A score is the share of the training points that were less unusual: 1.0 means "more
unusual than anything seen so far". A point's score never depends on what comes after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyod.models.hbos import HBOS

from analytics.nab import probation_rows


@dataclass(frozen=True)
class Scorer:
    """How a series is scored and when a score becomes a detection."""

    window: int = 24  # points in the trailing window
    threshold: float = 0.999  # detections: scores at or above this
    refractory: int = 48  # points after a detection in which no other is reported


def features(values: pd.Series, window: int) -> np.ndarray:
    """Trailing-window features per point (the first points use what they have)."""
    rolling = values.rolling(window, min_periods=1)
    median = rolling.median()
    mad = (values - median).abs().rolling(window, min_periods=1).median()
    scale = mad.where(mad > 0, values.abs().expanding().mean() * 1e-3 + 1e-9)
    robust = (values - median) / scale
    spread = rolling.std().fillna(0.0)
    step = values.diff().fillna(0.0)
    return np.column_stack([values, robust.clip(-1e6, 1e6), spread, step]).astype(float)


def score(values: pd.Series, scorer: Scorer = Scorer()) -> np.ndarray:
    """Each point's score in [0, 1]. The model learns from the series' probationary part (NAB's
    15%) and is refitted on everything before each next block, never on what it scores."""
    x = features(values.reset_index(drop=True).astype(float), scorer.window)
    n = len(x)
    learn = max(probation_rows(n), min(n, 2 * scorer.window))
    if learn < 10:
        return np.zeros(n)
    out = np.zeros(n)
    out[:learn] = _ranks(HBOS().fit(x[:learn]), x[:learn])
    block = max(learn, 100)
    for t in range(learn, n, block):
        out[t : t + block] = _ranks(HBOS().fit(x[:t]), x[t : t + block])
    return out


def _ranks(model: HBOS, x: np.ndarray) -> np.ndarray:
    """Share of the model's training points less unusual than each point."""
    learned = np.sort(model.decision_scores_)
    return np.searchsorted(learned, model.decision_function(x), side="left") / len(learned)


def detections(scores: np.ndarray, scorer: Scorer = Scorer()) -> list[bool]:
    """Scores at or above the threshold, keeping only the first of each burst."""
    out = [False] * len(scores)
    quiet_until = -1
    for i, s in enumerate(scores):
        if s >= scorer.threshold and i > quiet_until:
            out[i] = True
            quiet_until = i + scorer.refractory
    return out
