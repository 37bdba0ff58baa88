"""Merging per-frame readings into text segments: noise tolerance, caption changes, gaps."""

from __future__ import annotations

from vidlens.ocr import Reading, merge_readings

LOWER = (100.0, 600.0, 500.0, 640.0)
TOP = (100.0, 40.0, 400.0, 70.0)


def test_ocr_noise_does_not_split_a_line_and_the_best_variant_wins() -> None:
    samples = [[Reading("Exit 12 Northbound", 0.99, LOWER)], [Reading("Exit l2 Northbound", 0.80, LOWER)],
               [Reading("Exit 12 Northbound", 0.98, LOWER)]]
    (seg,) = merge_readings(samples)
    assert (seg.text, seg.first, seg.last, seg.readings) == ("Exit 12 Northbound", 0, 2, 3)
    assert set(seg.variants) == {"Exit 12 Northbound", "Exit l2 Northbound"}


def test_a_changed_caption_in_the_same_place_starts_a_new_segment() -> None:
    samples = [[Reading("Welcome to the kitchen", 0.99, LOWER)]] * 2 + \
              [[Reading("Now we grind the beans", 0.99, LOWER)]] * 2
    segs = merge_readings(samples)
    assert [(s.text, s.first, s.last) for s in segs] == [("Welcome to the kitchen", 0, 1),
                                                           ("Now we grind the beans", 2, 3)]


def test_one_missed_sample_is_bridged_two_are_not() -> None:
    line = [Reading("Breaking news", 0.99, TOP)]
    bridged = merge_readings([line, [], line])
    assert [(s.first, s.last) for s in bridged] == [(0, 2)]
    split = merge_readings([line, [], [], line])
    assert [(s.first, s.last) for s in split] == [(0, 0), (3, 3)]


def test_simultaneous_lines_stay_separate_and_a_weak_single_reading_is_dropped() -> None:
    samples = [[Reading("Breaking news", 0.99, TOP), Reading("Exit 12", 0.97, LOWER)],
               [Reading("Breaking news", 0.99, TOP), Reading("Exit 12", 0.97, LOWER),
                Reading("xq", 0.6, (700.0, 300.0, 720.0, 320.0))]]
    segs = merge_readings(samples)
    assert [s.text for s in segs] == ["Breaking news", "Exit 12"]
