"""Stage 13 scoring against error counts worked out by hand, and the comparison table."""
import pytest

from adapters.bin.compare import table
from adapters.bin.score_asr import score
from adapters.data.kaldi import DataDirError


def test_wer_and_cer_by_hand(tmp_path):
    (tmp_path / "ref").write_text("u1 THE CAT SAT\nu2 GO HOME\n")
    # u1: one substitution (SAT->SAD) ; u2: one deletion (HOME) -> 2 word errors / 5 words
    (tmp_path / "hyp").write_text("u1 THE CAT SAD\nu2 GO\n")
    s = score(tmp_path / "ref", tmp_path / "hyp")
    assert s["wer"] == pytest.approx(40.0)
    assert s["word_errors"] == {"sub": 1, "del": 1, "ins": 0}
    # characters: "THE CAT SAT" (11) + "GO HOME" (7) = 18; errors: T->D (1) + " HOME" deleted (5)
    assert s["chars"] == 18 and s["cer"] == pytest.approx(100.0 * 6 / 18)
    assert s["sentence_error_rate"] == pytest.approx(100.0) and s["utterances"] == 2


def test_missing_hypothesis_is_named(tmp_path):
    (tmp_path / "ref").write_text("u1 A\nu2 B\n")
    (tmp_path / "hyp").write_text("u1 A\n")
    with pytest.raises(DataDirError, match=r"no hypothesis for 1 utterance.*u2"):
        score(tmp_path / "ref", tmp_path / "hyp")


def test_comparison_table_marks_missing_sets():
    rows = table([
        {"exp": "exp/asr_ctc_hra", "method": "hra", "decoder": "ctc", "trainable_params": 1_520_000,
         "adapter_params": 131_584, "test": {"test_clean": {"wer": 10.0, "cer": 4.25}}},
        {"exp": "exp/asr_ctc_frozen", "method": "frozen", "decoder": "ctc", "test": {}},
    ]).splitlines()
    assert rows[2] == "| asr_ctc_hra | hra | 1.52M | 131.6k | 10.0 / 4.2 |"
    assert rows[3] == "| asr_ctc_frozen | frozen | ? | ? | not run |"


def test_accuracy_by_hand_and_table(tmp_path):
    from adapters.bin.score_cls import score as score_cls

    (tmp_path / "label").write_text("a yes\nb yes\nc no\nd _silence_\n")
    (tmp_path / "pred").write_text("a yes\nb no\nc no\nd _silence_\ne yes\n")
    s = score_cls(tmp_path / "label", tmp_path / "pred")
    assert s["accuracy"] == pytest.approx(75.0)  # a, c, d right; b wrong; e is not in the reference
    assert s["per_class_accuracy"] == {"_silence_": 100.0, "no": 100.0, "yes": 50.0}
    assert s["majority_accuracy"] == pytest.approx(50.0)
    assert s["confusion"]["yes"] == {"yes": 1, "no": 1}
    (tmp_path / "pred").write_text("a yes\n")
    with pytest.raises(DataDirError, match="no prediction for 3 utterance"):
        score_cls(tmp_path / "label", tmp_path / "pred")
    rows = table([{"exp": "exp/cls_elp", "method": "elp", "test": {"test": s}},
                  {"exp": "exp/spk_elp", "method": "elp",
                   "test": {"trials": {"eer": 12.5, "min_dcf_0.05": 0.4567}}}]).splitlines()
    assert rows[0] == "| run | method | trainable | adapter | test acc % | trials EER %/minDCF |"
    assert rows[2] == "| cls_elp | elp | ? | ? | 75.0 | not run |"
    assert rows[3] == "| spk_elp | elp | ? | ? | not run | 12.50 / 0.457 |"


def test_verification_scoring_by_hand(tmp_path):
    import numpy as np

    from adapters.bin.score_spk import score as score_spk

    # a and b point the same way (cosine 1), c is orthogonal to both (cosine 0)
    np.savez(tmp_path / "emb.npz", a=np.array([1.0, 0.0]), b=np.array([2.0, 0.0]), c=np.array([0.0, 3.0]))
    trials = tmp_path / "official_list.txt"  # any file name: the path given is the one read
    trials.write_text("1 a b\n0 a c\n0 b c\n")
    s = score_spk(trials, tmp_path / "emb.npz")
    assert s["eer"] == pytest.approx(0.0) and s["trials"] == 3 and s["targets"] == 1
    assert (tmp_path / "scores").read_text().splitlines()[0] == "a b 1.000000 target"
    trials.write_text("1 a b\n0 a d\n")
    with pytest.raises(DataDirError, match=r"official_list.txt:2: utterance d is not in the embeddings"):
        score_spk(trials, tmp_path / "emb.npz")


def test_unreadable_audio_is_named_in_batches(tmp_path):
    import numpy as np
    import soundfile as sf

    from adapters.data.batches import audio_batches

    sf.write(tmp_path / "ok.wav", np.zeros(1600, dtype="float32"), 16000)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really")
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path / 'ok.wav'}\nu2 {tmp_path / 'bad.wav'}\n")
    with pytest.raises(DataDirError, match="utterance u2: unreadable audio"):
        list(audio_batches(tmp_path, 16000 * 10, "test"))
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path / 'ok.wav'}\n")
    ((keys, speech, lens),) = list(audio_batches(tmp_path, 16000 * 10, "test"))
    assert keys == ["u1"] and speech.shape == (1, 1600) and lens.tolist() == [1600]


def test_comparison_table_takes_a_wer_only_entry():
    """Stage 17 of the multi-task recipe adds mean_over_tasks (WER only) to a run's results;
    a later composition run's comparison must still print it."""
    r = {"exp": "exp/asr_ctc_fusion", "method": "fusion", "trainable_params": 2000, "adapter_params": 1000,
         "test": {"test": {"wer": 37.8, "cer": 36.7}, "mean_over_tasks": {"wer": 38.7, "tasks": 15}}}
    out = table([r])
    assert "| 37.8 / 36.7 | 38.7 |" in out


def _fake_results(monkeypatch, module):
    def new_results(exp, task, espnet_task_name, metric):
        return {"exp": str(exp), "task": task, "metric": metric, "created": "2026-12-01 00:00:00",
                "method": "hra", "method_conf": {}, "upstream": "up", "upstream_path": None, "decoder": "ctc",
                "encoder": "transformer", "trainable_params": 10, "adapter_params": 5, "total_params": 20,
                "test": {}}

    monkeypatch.setattr(module, "new_results", new_results)


def test_asr_results_carry_cis_and_per_utterance_errors(tmp_path, monkeypatch):
    import json

    from adapters.bin import score_asr

    _fake_results(monkeypatch, score_asr)
    d = tmp_path / "data"
    d.mkdir()
    refs = {f"u{i:02d}": "A B C D" for i in range(30)}
    (d / "text").write_text("".join(f"{k} {v}\n" for k, v in refs.items()))
    # u0-u9 one substitution, u10-u14 one insertion too, the rest right
    hyps = {k: ("A B X D" if i < 10 else "A B C D E" if i < 15 else v) for i, (k, v) in enumerate(refs.items())}
    (tmp_path / "hyp").write_text("".join(f"{k} {v}\n" for k, v in hyps.items()))
    r = score_asr.write_results(tmp_path, [("test", d, tmp_path / "hyp")])
    s = r["test"]["test"]
    assert s["wer"] == pytest.approx(100 * 15 / 120) and s["n"] == 30 and r["per_item"] == "per_item.json"
    assert s["wer_ci"][0] < s["wer"] < s["wer_ci"][1] and s["cer_ci"][0] < s["cer"] < s["cer_ci"][1]
    assert "bootstrap over utterances" in s["ci_method"]
    items = json.loads((tmp_path / "per_item.json").read_text())["test"]
    assert items["ids"] == sorted(refs) and sum(items["word_errors"]) == 15 and sum(items["words"]) == 120
    assert sum(items["char_errors"]) == sum(s["word_errors"].values()) + 5  # X for C, " E" inserted
    assert sum(items["chars"]) == s["chars"]
    assert json.loads((tmp_path / "results.json").read_text())["test"]["test"]["wer_ci"] == s["wer_ci"]
    assert "|test|30|120|12.5|50.0|[" in (tmp_path / "RESULTS.md").read_text()


def test_asr_results_record_the_decoding_and_its_language_model(tmp_path, monkeypatch):
    import json

    from adapters.bin import score_asr

    _fake_results(monkeypatch, score_asr)
    d = tmp_path / "data"
    d.mkdir()
    (d / "text").write_text("u1 A B\n")
    (tmp_path / "hyp").write_text("u1 A B\n")
    conf = tmp_path / "decode_ctc_lm.yaml"
    conf.write_text("beam_size: 20\nctc_weight: 1.0\nlm_weight: 1.0\npenalty: 2.0\n")
    score_asr.main(["--exp", str(tmp_path), "--test", "test", str(d), str(tmp_path / "hyp"),
                    "--inference_config", str(conf), "--lm", "exp/lm_char/valid.loss.best.pth"])
    dec = json.loads((tmp_path / "results.json").read_text())["decoding"]
    assert dec == {"config": str(conf), "lm": "exp/lm_char/valid.loss.best.pth", "beam_size": 20,
                   "lm_weight": 1.0, "penalty": 2.0}
    assert "language model exp/lm_char/valid.loss.best.pth (weight 1.0)" in (tmp_path / "RESULTS.md").read_text()
    conf.write_text("ctc_greedy: true\n")
    score_asr.main(["--exp", str(tmp_path), "--test", "test", str(d), str(tmp_path / "hyp"),
                    "--inference_config", str(conf)])
    dec = json.loads((tmp_path / "results.json").read_text())["decoding"]
    assert dec == {"config": str(conf), "lm": None, "ctc_greedy": True}
    assert "language model" not in (tmp_path / "RESULTS.md").read_text()


def test_cls_and_spk_results_carry_cis_and_per_item_outcomes(tmp_path, monkeypatch):
    import json

    import numpy as np

    from adapters.bin import score_cls, score_spk

    _fake_results(monkeypatch, score_cls)
    (tmp_path / "label").write_text("".join(f"u{i:02d} {'yes' if i % 3 else 'no'}\n" for i in range(40)))
    (tmp_path / "pred").write_text("".join(f"u{i:02d} {'yes' if i < 30 else 'no'}\n" for i in range(40)))
    r = score_cls.write_results(tmp_path, [("test", tmp_path, tmp_path / "pred")], "ks")
    s = r["test"]["test"]
    items = json.loads((tmp_path / "per_item.json").read_text())["test"]
    assert s["accuracy"] == pytest.approx(100 * sum(items["correct"]) / 40) and s["n"] == 40
    assert s["accuracy_ci"][0] < s["accuracy"] < s["accuracy_ci"][1] and "majority_accuracy" in s

    spk = tmp_path / "spk"
    spk.mkdir()
    _fake_results(monkeypatch, score_spk)
    rng = np.random.default_rng(0)
    emb = {f"s{k}_{j}": rng.normal(size=8) + 3 * np.eye(8)[k] for k in range(4) for j in range(3)}
    np.savez(spk / "emb.npz", **emb)
    names = sorted(emb)
    trials = [(int(a.split("_")[0] == b.split("_")[0]), a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    (spk / "trials").write_text("".join(f"{y} {a} {b}\n" for y, a, b in trials))
    r = score_spk.write_results(spk, [("asv", spk / "trials", spk / "emb.npz")], "asv")
    s = r["test"]["asv"]
    items = json.loads((spk / "per_item.json").read_text())["asv"]
    assert s["n"] == len(trials) == len(items["scores"]) and items["labels"] == [y for y, _, _ in trials]
    for m in ("eer", "min_dcf_0.05", "min_dcf_0.01"):
        assert s[f"{m}_ci"][0] <= s[m] <= s[f"{m}_ci"][1]


def test_fold_average_has_a_t_interval_and_the_folds_items(tmp_path, capsys):
    import json

    from adapters.bin import aggregate_folds
    from adapters.stats import t_interval

    paths = []
    for k, correct in ((1, [1, 1, 0, 1]), (2, [1, 0, 0, 1]), (3, [1, 1, 1, 1])):
        d = tmp_path / f"cls_fold{k}_hra"
        d.mkdir()
        acc = 100.0 * sum(correct) / 4
        res = {"exp": str(d), "task": "er", "method": "hra", "per_item": "per_item.json",
               "test": {f"fold{k}_test": {"accuracy": acc, "utterances": 4, "majority_accuracy": 25.0}}}
        (d / "results.json").write_text(json.dumps(res))
        (d / "per_item.json").write_text(json.dumps(
            {f"fold{k}_test": {"ids": [f"Ses0{k}_{i}" for i in range(4)], "correct": correct}}))
        paths.append(d / "results.json")
    aggregate_folds.main(["--out", str(tmp_path / "cls_3fold_hra"), "--expected", "3", *map(str, paths)])
    out = json.loads((tmp_path / "cls_3fold_hra" / "results.json").read_text())
    t = out["test"]["test"]
    assert t["accuracy"] == pytest.approx(75.0) and t["n"] == 3
    assert t["accuracy_ci"] == pytest.approx(t_interval([75.0, 50.0, 100.0]))
    assert t["accuracy_ci_utterances"][0] <= 75.0 <= t["accuracy_ci_utterances"][1]
    items = json.loads((tmp_path / "cls_3fold_hra" / "per_item.json").read_text())["test"]
    assert items["strata"] == ["fold1_test"] * 4 + ["fold2_test"] * 4 + ["fold3_test"] * 4
    assert items["ids"][0] == "fold1_test/Ses01_0" and out["per_item"] == "per_item.json"
    assert "accuracy 75.0 % [" in capsys.readouterr().out


def test_one_fold_average_keeps_the_folds_own_interval(tmp_path, capsys):
    """One fold has no spread over folds: the "average" carries the fold's interval over utterances,
    not a standard deviation of 0 (the quick profile's ER column trains one fold)."""
    import json

    from adapters.bin import aggregate_folds

    d = tmp_path / "cls_fold1_elp"
    d.mkdir()
    fold = {"accuracy": 40.0, "utterances": 20, "majority_accuracy": 30.0, "accuracy_ci": [20.0, 65.0], "n": 20,
            "ci_method": "95 % percentile bootstrap over utterances, 2000 resamples, seed 0"}
    (d / "results.json").write_text(json.dumps({"exp": str(d), "task": "er", "method": "elp",
                                                "test": {"fold1_test": fold}}))
    aggregate_folds.main(["--out", str(tmp_path / "cls_1fold_elp"), "--expected", "1", str(d / "results.json")])
    t = json.loads((tmp_path / "cls_1fold_elp" / "results.json").read_text())["test"]["test"]
    assert t["accuracy"] == 40.0 and t["accuracy_ci"] == [20.0, 65.0] and t["n"] == 20
    assert "accuracy_std" not in t and t["ci_method"].startswith("one fold: 95 % percentile bootstrap")
    printed = capsys.readouterr().out
    assert "accuracy 40.0 % [20.0, 65.0] over 1 fold (" in printed and "sd" not in printed
    assert "(sd" not in (tmp_path / "cls_1fold_elp" / "RESULTS.md").read_text()


def test_multitask_mean_over_tasks_has_a_ci(tmp_path):
    import json

    from adapters.bin.score_multitask import annotate_run, task_items

    d = tmp_path / "test"
    d.mkdir()
    (d / "text").write_text("u1 A B\nu2 C D\nu3 E F G H\n")
    (d / "utt2task").write_text("u1 t1\nu2 t1\nu3 t2\n")
    (tmp_path / "hyp").write_text("u1 A B\nu2 C X\nu3 E F\n")
    items = task_items(d, tmp_path / "hyp")
    assert items == {"ids": ["u1", "u2", "u3"], "word_errors": [0, 1, 2], "words": [2, 2, 4],
                     "strata": ["t1", "t1", "t2"]}
    exp = tmp_path / "exp"
    exp.mkdir()
    (exp / "results.json").write_text(json.dumps({"task": "asr", "per_item": "per_item.json",
                                                  "test": {"test": {"wer": 37.5}}}))
    (exp / "per_item.json").write_text(json.dumps({"test": {"ids": ["u1"], "word_errors": [0], "words": [2]}}))
    row = {"mean_wer": 37.5, "sets": {"test": {"t1": {"wer": 25.0, "utterances": 2},
                                              "t2": {"wer": 50.0, "utterances": 1}}}}
    annotate_run(exp, "-", row, items)
    res = json.loads((exp / "results.json").read_text())
    m = res["test"]["mean_over_tasks"]
    assert m["wer"] == 37.5 and m["n"] == 3 and m["wer_ci"][0] <= 37.5 <= m["wer_ci"][1]
    per_item = json.loads((exp / "per_item.json").read_text())
    assert set(per_item) == {"test", "mean_over_tasks"} and per_item["mean_over_tasks"] == items
    # the held-out speakers' items, stratified by task, for the claims' zero-shot comparison
    annotate_run(exp, "-", row, items, zeroshot_items={**items, "strata": ["z1", "z2", "z2"]})
    per_item = json.loads((exp / "per_item.json").read_text())
    assert per_item["zeroshot_mean_over_tasks"]["strata"] == ["z1", "z2", "z2"]
    assert "zeroshot_mean_over_tasks" not in json.loads((exp / "results.json").read_text())["test"]
