"""Test and benchmark support (not shipped in the wheel): real photos, synthetic videos with exact ground truth,
scoring."""
