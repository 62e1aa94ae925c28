"""`nnrun sweep`: a hyperparameter search declared in the config's `sweep:` section, run on Optuna
with a relational study (SQLite in the sweep folder by default).

    section.py   the `sweep:` section on its own: keys, kinds of parameter, ranges, types
    space.py     the section against the config: paths that exist, values that fit; sampling a
                 trial's parameters and turning them into its config
    setup.py     every check a new sweep makes before it writes anything; the metric and direction
    folder.py    the sweep folder: sweep.json, trial folders, the ask lock, best.yaml
    study.py     opening the Optuna study; trials that a killed sweep left running
    trial.py     one trial: an ordinary `nnrun train` run folder, reported epoch by epoch
    worker.py    the loop that asks for trials and runs them (in-process, or one process a job)
    jobs.py      --jobs J: the job processes, their threads, signals passed on, lines relayed
    summary.py   the table of trials, sorted by the metric, and the best trial
    listing.py   `nnrun runs SWEEP`: the trials as runs, with their swept values

Only the command and the workers import Optuna: checking a config's sweep section does not.
"""
