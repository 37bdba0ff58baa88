"""Analyzer options are checked against each analyzer's own parameters: a slip is a UsageError (exit 2)."""

from __future__ import annotations

import pytest

from vidlens import api
from vidlens.analyzers import ANALYZERS, create_analyzers
from vidlens.analyzers.registry import analyzer_options
from vidlens.errors import UsageError


def test_every_analyzer_lists_its_options() -> None:
    for name in ANALYZERS:
        assert analyzer_options(name), name
    assert "top_k" in analyzer_options("labels")


@pytest.mark.parametrize("options, words", [
    ({"labels": {"topk": 3}}, ["labels", "topk", "top_k", "min_confidence"]),
    ({"labels": {"top_k": "3"}}, ["labels", "top_k", "int", "'3'"]),
    ({"keyframes": {"contact_sheet": 1}}, ["keyframes", "contact_sheet", "bool"]),
    ({"speech": {"threshold": True}}, ["speech", "threshold", "float"]),
    ({"objects": {"classes": "person"}}, ["objects", "classes", "list[str]"]),
    ({"labbels": {"top_k": 3}}, ["labbels", "available", "labels"]),
    ({"labels": 3}, ["labels", "mapping"]),
])
def test_a_wrong_option_names_the_analyzer_the_option_and_the_valid_ones(options, words) -> None:
    with pytest.raises(UsageError) as caught:
        create_analyzers(["shots", "labels"], options)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_right_options_still_build() -> None:
    built = create_analyzers(["labels"], {"labels": {"top_k": 3, "fps": 1}, "objects": {"classes": ["person"]}})
    assert [a.name for a in built][-1] == "labels" and built[-1].top_k == 3


def test_a_value_out_of_range_is_a_usage_error_too() -> None:
    with pytest.raises(UsageError, match="speech threshold"):
        create_analyzers(["speech"], {"speech": {"threshold": 1.5}})


def test_api_analyze_refuses_a_misspelt_option_before_writing(make_video, tmp_path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="topk"):
        api.analyze(make_video(), options={"labels": {"topk": 3}}, output_dir=out)
    assert not out.exists()
