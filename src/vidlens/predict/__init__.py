"""Running a trained video classifier without torch: the bundle format, input preparation, the ONNX predictor.

``vidlens.train`` (PyTorch) writes bundles; this package reads and runs them with ONNX Runtime. It sits
below the analyzers (the ``classifier`` analyzer streams frames through :class:`~.predictor.WindowStream`),
so it never imports the pipeline, analyzers or ``train``: classifying a video file in one decode pass is
:func:`vidlens.api.predict_video`, evaluating on a dataset is :mod:`vidlens.train.report`.

Input streams computed from frames live here too, so training and prediction share them: the pose stream
(:mod:`.pose_stream`) runs the shipped person detector, tracker and MoveNet from :mod:`vidlens.objects`.
"""
