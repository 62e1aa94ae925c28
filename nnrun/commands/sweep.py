"""`nnrun sweep CONFIG`: the hyperparameter search of CONFIG's `sweep:` section, on Optuna.

Thin wrapper: check everything (nnrun.sweep.setup), make the sweep folder and its study, run the
jobs (nnrun.sweep.worker, nnrun.sweep.jobs), then print the trials sorted by the metric and write
best.yaml (nnrun.sweep.summary). `--resume SWEEP_FOLDER` goes on with a stopped sweep.
"""
import shutil
import sys

import click

from nnrun.commands.options import set_option
from nnrun.errors import UserError


@click.command()
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@set_option
@click.option("--trials", type=int, default=None, metavar="N",
              help="How many trials the study runs [default: the sweep section's trials].")
@click.option("--jobs", "-j", type=int, default=1, show_default=True, metavar="J",
              help="Trials at once on this machine, one process each; the CPU threads are split between them.")
@click.option("--storage", metavar="URL", default=None,
              help="The study's database, any URL Optuna takes (postgresql://..., mysql://...) "
                   "[default: sqlite:///SWEEP/study.db].")
@click.option("--study", "study_name", metavar="NAME", default=None,
              help="The study's name in the database; machines that give the same --storage and --study "
                   "share one search [default: <config name>/<sweep folder name>].")
@click.option("--sweep-dir", type=click.Path(file_okay=False), default=None,
              help="The sweep folder [default: runs/<config name>/sweep-<time>/].")
@click.option("--resume", "resume_dir", metavar="SWEEP_FOLDER", type=click.Path(file_okay=False), default=None,
              help="Go on with the stopped sweep in SWEEP_FOLDER (up to its trials, or --trials).")
def sweep(config, overrides, trials, jobs, storage, study_name, sweep_dir, resume_dir):
    """Search the hyperparameters declared in CONFIG's sweep section: each trial is an ordinary
    run folder (SWEEP/trial-NNNN/), the study lives in SWEEP/study.db, and at the end the trials
    are listed best first and the best trial's config is written to SWEEP/best.yaml.

    Ctrl-C stops every running trial cleanly; `nnrun sweep --resume SWEEP` goes on.
    """
    from nnrun.sweep import study as studies
    from nnrun.sweep.folder import SweepFolder, new_sweep_path
    from nnrun.sweep.section import sweep_section

    if trials is not None and trials < 1:
        raise UserError(f"--trials: must be ≥ 1, got {trials}")
    if jobs < 1:
        raise UserError(f"--jobs: must be ≥ 1, got {jobs}")
    if resume_dir is not None:
        if config is not None or overrides or sweep_dir is not None or study_name is not None:
            raise UserError("--resume goes on with the sweep's own config, folder and study; "
                            "give only --trials, --jobs or --storage with it")
        folder = SweepFolder.open(resume_dir)
        if trials is not None:
            folder.info["trials"] = min(trials, folder.info.get("grid-size") or trials)
        if storage is not None:
            folder.info["storage"] = storage
        parameters = sweep_section(folder.info["config"]["sweep"])["parameters"]
        from nnrun.sweep.setup import recheck

        recheck(folder.info, f"--resume {resume_dir}")
        study = studies.open_study(folder, parameters)
        stale = studies.recover_stale(study, own=folder.own_study)
        folder.save()
        if stale:
            click.echo(f"trials {', '.join(str(n) for n in stale)} were left running by a sweep that was "
                       f"killed: recorded as interrupted, their values queued again")
    else:
        if config is None:
            raise UserError("give a CONFIG file with a sweep section (or --resume SWEEP_FOLDER)")
        from nnrun.sweep.setup import new_sweep_info

        info = new_sweep_info(config, overrides, trials)
        parameters = sweep_section(info["config"]["sweep"])["parameters"]
        path = new_sweep_path(info["name"], sweep_dir)
        made = not path.exists()
        folder = SweepFolder.create(path, {**info, "storage": storage, "study": study_name})
        folder.info["study"] = study_name or f"{info['name']}/{folder.path.name}"
        try:
            study = studies.open_study(folder, parameters, create=True)
            studies.check_direction(study, folder)
            folder.save()
        except BaseException:  # nothing half-made: the folder goes (or is emptied again, when given)
            if made:
                shutil.rmtree(folder.path)
            else:
                for file in folder.path.iterdir():
                    file.unlink()
            raise
    _run(folder, parameters, studies.jobs_wanted(study, folder.info["trials"], jobs), study)


def _run(folder, parameters, jobs, study):
    from nnrun.sweep import study as studies
    from nnrun.sweep import summary
    from nnrun.sweep.jobs import killed, run_children
    from nnrun.sweep.worker import recorded_as_resume, run_jobs_share

    info, settings = folder.info, folder.info["settings"]
    pruner = settings["pruner"]["type"]
    click.echo(f"sweep {info['name']}: {info['trials']} trials by {info['metric']} ({info['direction']}), "
               f"{settings['sampler']} sampler, {pruner} pruner, {jobs} job{'s' if jobs > 1 else ''}; "
               f"{studies.counted(study)} done or running\n"
               f"sweep folder: {folder.path}\nstudy: {info['study']} in {studies.without_password(folder.storage_url)}")
    mistake = short = False
    if jobs == 1:
        with recorded_as_resume(folder):
            outcomes, stopped = run_jobs_share(folder, parameters)
        bug = any(o.bug for o in outcomes)
    else:
        stopped, codes = run_children(folder, jobs)
        mistake = 2 in codes  # a job's one-line error is above
        bug = any(code not in (0, 2, 130) for code in codes if code >= 0)
        short = _after_killed_jobs(study, folder, killed(codes))
    rows, lines = summary.report(study, folder, parameters)
    if rows:
        click.echo(rows)
    for line in lines:
        click.echo(line)
    if stopped:
        click.echo(f"stopped: go on with nnrun sweep --resume {folder.path}", err=True)
        sys.exit(130)
    if mistake:
        sys.exit(2)
    if short:
        click.echo(f"error: the sweep is short of its trials: go on with nnrun sweep --resume {folder.path}", err=True)
        sys.exit(1)
    if bug:
        click.echo("error: a trial failed with an unexpected error (its traceback is above)", err=True)
        sys.exit(1)


def _after_killed_jobs(study, folder, lost):
    """Jobs that a signal ended (`lost`: [(slot, signal name)]) left their trials marked running:
    record those as --resume would, right away, so the table and the study say what happened.
    Returns whether the sweep is short of its trials for it."""
    from nnrun.sweep import study as studies

    if not lost:
        return False
    for slot, name in lost:
        click.echo(f"job {slot} was ended by {name} (out of memory?)", err=True)
    stale = studies.recover_stale(study, own=folder.own_study)
    if stale:
        one = len(stale) == 1
        click.echo(f"trial{'' if one else 's'} {', '.join(str(n) for n in stale)}, left running: recorded as "
                   f"interrupted, {'its' if one else 'their'} values queued again", err=True)
    return studies.counted(study) < folder.info["trials"]
