"""ESPnet's training curves are drawn once, when training stops, from the reporter in
checkpoint.pth (adapters/training_curves.py); the end-to-end KS recipe test checks a real run."""
import logging

import torch

from adapters.training_curves import per_epoch_plots_off, plot_from_checkpoint, train


def test_per_epoch_plots_are_turned_off_unless_the_command_line_sets_them():
    assert per_epoch_plots_off(["--config", "c.yaml"]) == (["--config", "c.yaml", "--use_matplotlib", "false"], True)
    assert per_epoch_plots_off(["--use_matplotlib", "true"]) == (["--use_matplotlib", "true"], False)
    assert per_epoch_plots_off(["--use_matplotlib=true"]) == (["--use_matplotlib=true"], False)


def reporter_state(epochs=3):
    from espnet2.train.reporter import Reporter

    r = Reporter()
    for e in range(1, epochs + 1):
        r.set_epoch(e)
        with r.observe("train") as sub:
            sub.register({"loss": 2.0 / e, "acc": 0.3 * e})
            sub.next()
        with r.observe("valid") as sub:
            sub.register({"loss": 2.5 / e, "acc": 0.25 * e})
            sub.next()
    return r.state_dict()


def test_the_curves_are_drawn_from_the_checkpoint(tmp_path):
    torch.save({"model": {}, "reporter": reporter_state()}, tmp_path / "checkpoint.pth")
    assert plot_from_checkpoint(tmp_path)
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["acc.png", "loss.png"]


def test_no_checkpoint_or_a_broken_one_draws_nothing_and_raises_nothing(tmp_path, caplog):
    assert not plot_from_checkpoint(tmp_path) and not plot_from_checkpoint(None)
    (tmp_path / "checkpoint.pth").write_bytes(b"not a checkpoint")
    with caplog.at_level(logging.WARNING):
        assert not plot_from_checkpoint(tmp_path)
    assert "training curves not drawn" in caplog.text and not (tmp_path / "images").exists()


def test_a_failed_training_still_gets_its_curves_and_its_error(tmp_path):
    torch.save({"model": {}, "reporter": reporter_state(2)}, tmp_path / "checkpoint.pth")
    seen = {}

    def failing_main(cmd):
        seen["cmd"] = cmd
        raise RuntimeError("epoch 3 failed")

    try:
        train(failing_main, ["--output_dir", str(tmp_path)])
    except RuntimeError as e:
        assert str(e) == "epoch 3 failed"
    else:
        raise AssertionError("the training's error was swallowed")
    assert seen["cmd"][-2:] == ["--use_matplotlib", "false"] and (tmp_path / "images" / "loss.png").is_file()
