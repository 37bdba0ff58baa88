"""BS.1770 loudness on generated signals whose loudness follows from the standard."""

from __future__ import annotations

import numpy as np
import pytest

from vidlens.media.loudness import HIGHPASS, RATE, SHELF, LoudnessMeter, figures


def sine(dbfs: float, seconds: float, hz: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def measure(x: np.ndarray, channels: tuple[str, ...], block: int = 1024) -> LoudnessMeter:
    meter = LoudnessMeter(channels)
    x = np.atleast_2d(x)
    for i in range(0, x.shape[1], block):  # in decoder-sized pieces, as the analyzer feeds it
        meter.push(x[:, i: i + block])
    return meter


def test_fir_k_weighting_matches_the_recursive_filters() -> None:
    signal = pytest.importorskip("scipy.signal")
    x = np.random.default_rng(1).standard_normal((2, 5 * RATE)) * 0.1
    y = signal.lfilter(*HIGHPASS, signal.lfilter(*SHELF, x, axis=1), axis=1)
    steps = measure(x, ("FL", "FR")).steps()
    expected = (y**2).sum(axis=0)[: len(steps) * RATE // 10].reshape(len(steps), -1).mean(axis=1)
    assert len(steps) == 50
    np.testing.assert_allclose(steps, expected, rtol=1e-9)


# A 1 kHz sine at -20 dBFS has mean square 0.005 (-23.01 dB); K-weighting adds +0.69 dB at 1 kHz and the
# standard subtracts 0.691, so one channel reads -23.0 LUFS and the same sine on both stereo channels -20.0.
# Surround channels weigh 1.41 and LFE 0: four channels carry (2 + 2 x 1.41) times one channel's power.
@pytest.mark.parametrize(("channels", "expected"), [
    (("FC",), -23.0), (("FL", "FR"), -20.0), (("FL", "FR", "LFE"), -20.0),
    (("FL", "FR", "SL", "SR"), -23.01 + 10 * np.log10(2 + 2 * 1.41)),
])
def test_sine_at_minus_20_dbfs(channels: tuple[str, ...], expected: float) -> None:
    x = np.tile(sine(-20, 5), (len(channels), 1))
    lufs = figures(measure(x, channels).steps()).integrated_lufs
    assert lufs == pytest.approx(expected, abs=0.05)


def test_gating_ignores_silence_and_much_quieter_passages() -> None:
    loud, quiet, silent = sine(-20, 4), sine(-45, 4), np.zeros(4 * RATE, np.float32)
    lufs = figures(measure(np.concatenate([loud, quiet, silent]), ("FC",)).steps()).integrated_lufs
    # -45 dBFS is far below the relative gate, so only the 37 loud 400 ms blocks and the 3 straddling the
    # change (3/4, 1/2 and 1/4 loud) count; without gating the 12 s would read about -27.8 LUFS.
    assert lufs == pytest.approx(-23.01 + 10 * np.log10((37 + 1.5) / 40), abs=0.02)


def test_loudness_range_of_two_levels() -> None:
    x = np.concatenate([sine(-20, 10), sine(-30, 10)])
    fig = figures(measure(x, ("FC",)).steps())
    assert fig.loudness_range_lu == pytest.approx(10.0, abs=0.3)
    assert np.nanmax(fig.short_term_lufs) == pytest.approx(-23.0, abs=0.1)


def test_missing_audio_is_left_out() -> None:
    meter = LoudnessMeter(("FC",))
    meter.push(sine(-20, 2)[None])
    meter.push(np.zeros((1, 2 * RATE), np.float32), missing=True)
    meter.push(sine(-20, 2)[None])
    steps = meter.steps()
    assert np.isnan(steps[20:40]).all() and not np.isnan(steps[:19]).any()
    assert figures(steps).integrated_lufs == pytest.approx(-23.0, abs=0.1)


def test_digital_silence_has_no_loudness() -> None:
    fig = figures(measure(np.zeros(3 * RATE, np.float32), ("FL",)).steps())
    assert fig.integrated_lufs is None and fig.loudness_range_lu is None
