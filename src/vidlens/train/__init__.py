"""Training, evaluation and export of user video classifiers (issue 7; PyTorch is the optional ``train`` extra).

The data side (``dataset``, ``sampling``, ``features``) and ``metrics``, ``plots``, ``inputs`` need only NumPy,
PyAV, OpenCV and ONNX Runtime, so datasets can be checked, features cached and models run on machines without
PyTorch. The PyTorch parts (models, loop, torch_datasets, evaluation) import torch themselves; this package's
``__init__`` must never import it.
"""
