"""Test and benchmark support: real photos, synthetic videos with exact ground truth, scoring."""
