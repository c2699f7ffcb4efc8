"""ESPnet's training curves (``<output_dir>/images/*.png``) drawn once, when training ends.

ESPnet's trainer redraws every curve after every epoch (``--use_matplotlib``, default true):
12-20 figures, about 1 s on the project's 2-core CPU machine (0.9-1.3 s, idle, 2026-12-05).
On the benchmark's small corpora an epoch trains in 0.5-15 s, so the plots were up to two
thirds of an epoch's wall time.  Our training entry points turn the per-epoch plots off
unless the command line asks for them, and draw the same figures from the reporter that
``checkpoint.pth`` holds when training stops (finished, failed or interrupted).  Plotting
touches no random state, so the trained weights are the same either way.

``--use_matplotlib true`` on the command line restores ESPnet's per-epoch plots (worth it on a
real corpus, where an epoch takes minutes and the curves are watched while it trains).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

FLAG = "--use_matplotlib"


def per_epoch_plots_off(argv: list) -> tuple:
    """(the command line with ``--use_matplotlib false`` added, True) unless it sets the
    option itself: (it unchanged, False)."""
    if any(a == FLAG or a.startswith(FLAG + "=") for a in argv):
        return list(argv), False
    return [*argv, FLAG, "false"], True


def train(task_main, argv=None) -> list:
    """``task_main(cmd=...)`` (an ESPnet task's ``main``) with the per-epoch plots off (unless
    the command line sets ``--use_matplotlib``) and the curves drawn once when it returns or
    raises; returns the command line it ran."""
    import sys

    from adapters.results import output_dir_of

    cmd, at_end = per_epoch_plots_off(sys.argv[1:] if argv is None else argv)
    try:
        task_main(cmd=cmd)
    finally:
        if at_end:
            plot_from_checkpoint(output_dir_of(cmd))
    return cmd


def plot_from_checkpoint(output_dir: Optional[Path]) -> bool:
    """Draw ``<output_dir>/images/*.png`` from ``<output_dir>/checkpoint.pth``'s reporter, as
    ESPnet's trainer does after an epoch.  False (and nothing drawn) without a checkpoint;
    a failure is logged, not raised: the curves must not fail a training that succeeded."""
    ckpt = Path(output_dir) / "checkpoint.pth" if output_dir is not None else None
    if ckpt is None or not ckpt.is_file():
        return False
    try:
        import torch
        from espnet2.train.reporter import Reporter

        # our own trainer's file, with the reporter's Python objects: not weights only
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        reporter = Reporter()
        reporter.load_state_dict(state["reporter"])
        reporter.matplotlib_plot(Path(output_dir) / "images")
        return True
    except Exception as e:  # noqa: BLE001 - any failure to draw is reported and skipped
        logging.warning(f"training curves not drawn from {ckpt}: {e!r}")
        return False
