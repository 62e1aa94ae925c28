"""Training: `nnrun train` and `nnrun evaluate` (docs/train.md).

  task.py        what is learnt: leaves, classes, positive class, metric, splits; config vs dataset checks
  session.py     everything a run needs, built and checked before anything is written
  data.py        a split on the device, batched by index tensors
  sampling.py    endless class-balanced / shuffled streams cut into epochs (seeded, resumable, shardable)
  augment.py     batched augmentation on the device (tables, images, denoising input noise)
  step.py        one training epoch: the hot loop
  evaluation.py  a whole split through the network, and its metrics
  metrics.py     confusion matrix, precision/recall, F-beta, thresholds, average precision
  optimizers.py  adam / adadelta / sgd with Cortex's defaults over the network's parameter groups
  schedule.py    step, cosine, reduce-on-plateau
  transfer.py    init-from: start from another checkpoint's matching layers
  state.py       random-number state, and which config edits a resume accepts
  run_folder.py  the run folder's files
  report.py      what a person reads: epoch blocks, summaries, confusion matrices
  loop.py        the fold over epochs: evaluate, select, checkpoint, stop, resume
  distributed.py the ranks of a parallel job: process group, collectives, per-rank random streams, DDP
  launch.py      `--nproc N` through torch's launcher, how a job ended, finding the run after a restart
  assess.py      a saved model measured on a prepared split (`nnrun evaluate`)
  start.py       a run start to finish: config or run to resume, the job's processes, run_training
"""
