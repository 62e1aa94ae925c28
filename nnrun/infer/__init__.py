"""Inference on saved model files: `nnrun infer` and `nnrun kaggle-submit`.

Read top to bottom, as the data flows:

    inputs.py      the one front door: image files and folders, CSV rows, prepared splits
    images.py      decoding images in a pool of worker processes (which also predict, with
                   ONNX Runtime), in order, with the training decoder
    model.py       a model file opened: classes, decision, preprocessing, and its engine
    engines.py     ONNX Runtime (CPU, no torch) or torch (any device) running the network
    predict.py     the threshold decision, top-k, ensembles and mirror test-time augmentation
    output.py      JSON lines / CSV / table writers, streamed
    submission.py  Kaggle submissions: ids, order, the sample-submission check, the CSV
    run.py, submit_run.py   the two commands, start to finish

What `prepare` shares with it lives in nnrun/data: which files are CSV or images and the natural
order of ids (files.py), the image decoder (decode.py), the CSV reader (csv_rows.py). The
network's outputs are defined once, in nnrun/network/predictor.py.
"""
