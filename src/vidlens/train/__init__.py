"""Training and evaluating video classifiers (issue 7).

The data side (``dataset``, ``sampling``, ``features``) needs only numpy, PyAV and ONNX Runtime, so
datasets can be checked and features cached on machines without PyTorch. The PyTorch parts
(models, loop) import torch themselves; this package's ``__init__`` must never import it.
"""
