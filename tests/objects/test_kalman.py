"""The box Kalman filter: one prediction over dt equals dt steps; it learns a constant velocity."""

from __future__ import annotations

import numpy as np
import pytest

from vidlens.objects import kalman


def test_predict_over_dt_matches_repeated_steps_in_the_mean() -> None:
    mean, cov = kalman.initiate(np.array([10, 20, 50, 100]))
    mean[4:] = [2.0, -1.0, 0.5, 0.0]
    once, _ = kalman.predict(mean, cov, 4)
    steps = mean
    for _ in range(4):
        steps, cov = kalman.predict(steps, cov, 1)
    np.testing.assert_allclose(once, steps)
    with pytest.raises(ValueError):
        kalman.predict(mean, cov, -1)


def test_learns_a_constant_velocity_from_noisy_boxes() -> None:
    rng = np.random.default_rng(0)
    truth = lambda f: np.array([100 + 3 * f, 50 + 1 * f, 160 + 3 * f, 170 + 1 * f], float)  # noqa: E731
    mean, cov = kalman.initiate(truth(0))
    for f in range(1, 40):
        mean, cov = kalman.predict(mean, cov, 1)
        mean, cov = kalman.update(mean, cov, truth(f) + rng.normal(0, 2, 4))
    np.testing.assert_allclose(mean[4:6], [3, 1], atol=0.3)
    ahead, _ = kalman.predict(mean, cov, 10)
    np.testing.assert_allclose(kalman.cxcywh_to_xyxy(ahead), truth(49), atol=5)
