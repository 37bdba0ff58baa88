"""Training, evaluation and export of user video classifiers (PyTorch optional extra)."""
