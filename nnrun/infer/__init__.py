"""Inference on saved checkpoints: `nnrun infer` and `nnrun kaggle-submit`.

One job per module, in the order data flows through them:

    meta.py        what a checkpoint says (classes, threshold, preprocessing), read without torch
                   or its arrays
    inputs.py      the inputs of every kind (image files and folders, CSV rows, prepared splits)
    images.py      decoding image files in worker processes, in order, with the training decoder
    pipeline.py    the order of start-up: workers forked first, then the checkpoints read
    handoff.py     the numpy network handed to workers forked before it existed (shared memory)
    tables.py      CSV feature rows in chunks, checked against the checkpoint's feature columns
    model.py       a checkpoint opened for inference: preprocessing + an engine
    engine_torch.py / engine_numpy.py   running the network (torch: any layer, GPU; numpy: a lean
                   CPU path for common layers that spares the ~2 s torch import)
    blas.py, memory.py  process tuning for the numpy engine (BLAS threads, malloc thresholds)
    predict.py     probability maps, the threshold decision, top-k, reconstruction errors
    output.py      JSON lines / CSV / table writers, streamed, and atomic output files
    submission.py  Kaggle submissions: ids, ordering, sample-submission check, the CSV itself
    ids.py         natural ordering of ids

Nothing here imports torch at module level: the numpy engine must be able to run without it.
"""
