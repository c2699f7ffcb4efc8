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
