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
    assert rows[2] == "| asr_ctc_hra | hra | ctc | 1.52M | 131.6k | 10.0 / 4.2 |"
    assert rows[3] == "| asr_ctc_frozen | frozen | ctc | ? | ? | not run |"
