"""IEMOCAP: the EmoEvaluation parser on the real text format, the SUPERB 4-class
leave-one-session-out folds on a hand-made release, and a tiny synthetic corpus
prepared by the same code (its emotions audible: angry louder than sad)."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from adapters.data.iemocap import CLASSES, parse_emo_evaluation, prepare, to_class
from adapters.data.kaldi import DataDirError, read_table, validate_data_dir

# an excerpt in the real files' format: a % header, tab-separated utterance lines,
# categorical (C-) and dimensional (A-) evaluator lines, blank lines between blocks
EXCERPT = (
    "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"
    "\n"
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E2:\tNeutral;\t()\n"
    "C-E3:\tNeutral;\t()\n"
    "C-E4:\tNeutral;\t()\n"
    "C-F1:\tNeutral;\t(curious)\n"
    "A-E3:\tval 3; act 2; dom  2;\t()\n"
    "A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)\n"
    "A-F1:\tval 3; act 2; dom  1;\t()\n"
    "\n"
    "[10.0100 - 11.3925]\tSes01F_impro01_M000\texc\t[3.5000, 3.5000, 3.0000]\n"
    "C-E2:\tExcited; Happiness;\t()\n"
    "C-E3:\tExcited;\t()\n"
    "A-E3:\tval 4; act 4; dom  3;\t()\n"
    "\n"
    "[14.8872 - 18.0175]\tSes01F_impro01_F001\tfru\t[2.0000, 3.5000, 3.5000]\n"
    "C-E2:\tFrustration;\t()\n"
    "C-E3:\tAnger; Frustration;\t(annoyed)\n"
    "\n"
    "[19.2900 - 20.7875]\tSes01F_impro01_M001\txxx\t[2.5000, 2.5000, 3.0000]\n"
    "C-E1:\tNeutral;\t()\n"
    "C-E2:\tSadness;\t()\n"
    "C-E3:\tFrustration;\t()\n"
    "\n"
    "[21.3257 - 24.7400]\tSes01F_impro01_F002\tsad\t[1.5000, 2.0000, 2.0000]\n"
    "C-E2:\tSadness;\t()\n"
    "\n"
    "[27.4600 - 31.4900]\tSes01F_impro01_M002\tang\t[1.5000, 4.0000, 4.5000]\n"
    "C-E2:\tAnger;\t()\n"
    "\n"
    "[32.0000 - 33.5000]\tSes01F_impro01_F003\thap\t[4.0000, 3.0000, 3.0000]\n"
    "C-E2:\tHappiness;\t()\n"
    "\n"
)


def test_parse_real_format(tmp_path):
    p = tmp_path / "Ses01F_impro01.txt"
    p.write_text(EXCERPT)
    pairs = parse_emo_evaluation(p)
    assert pairs == [("Ses01F_impro01_F000", "neu"), ("Ses01F_impro01_M000", "exc"),
                     ("Ses01F_impro01_F001", "fru"), ("Ses01F_impro01_M001", "xxx"),
                     ("Ses01F_impro01_F002", "sad"), ("Ses01F_impro01_M002", "ang"),
                     ("Ses01F_impro01_F003", "hap")]
    assert [to_class(c) for _, c in pairs] == ["neu", "hap", None, None, "sad", "ang", "hap"]
    assert to_class("sur") is None and to_class("oth") is None
    # spaces instead of tabs and CRLF line ends are read too
    p.write_text(EXCERPT.replace("\tSes01F_impro01_F000\t", "  Ses01F_impro01_F000 ").replace("\n", "\r\n"))
    assert parse_emo_evaluation(p)[0] == ("Ses01F_impro01_F000", "neu")


@pytest.mark.parametrize("bad", [
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\n",  # no [V, A, D]
    "[6.2901 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n",  # no dash
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\t[2.5000, 2.5000, 2.5000]\n",  # no code
])
def test_parse_rejects_malformed_line(tmp_path, bad):
    p = tmp_path / "Ses01F_impro01.txt"
    lines = EXCERPT.splitlines(keepends=True)
    lines[11] = bad  # the second utterance line
    p.write_text("".join(lines))
    with pytest.raises(DataDirError, match=rf"Ses01F_impro01.txt:12: expected"):
        parse_emo_evaluation(p)


# per session: (dialog, [(utterance suffix, code)]); every session has every class
CODES = ("neu", "hap", "exc", "ang", "sad", "fru", "xxx", "neu", "ang", "sad", "sur")


def make_release(root, wavs=True):
    """A hand-made IEMOCAP_full_release: one dialog per session, silent 0.1 s wavs."""
    rel = root / "IEMOCAP_full_release"
    for s in range(1, 6):
        dialog = f"Ses0{s}{'FM'[s % 2]}_impro0{s}"
        blocks, count = [], {"F": 0, "M": 0}
        for i, code in enumerate(CODES):
            g = "FM"[i % 2]
            utt = f"{dialog}_{g}{count[g]:03d}"
            count[g] += 1
            blocks.append(f"[{i * 2:.4f} - {i * 2 + 1:.4f}]\t{utt}\t{code}\t[2.5000, 2.5000, 2.5000]\n"
                          f"C-E2:\tNeutral;\t()\nA-E3:\tval 3; act 2; dom  2;\t()\n")
            if wavs:
                w = rel / f"Session{s}" / "sentences" / "wav" / dialog / f"{utt}.wav"
                w.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(w), np.zeros(1600), 16000, subtype="PCM_16")
        ev = rel / f"Session{s}" / "dialog" / "EmoEvaluation"
        (ev / "Categorical").mkdir(parents=True)  # per-evaluator copies: not label files
        (ev / "Categorical" / f"{dialog}_e2_cat.txt").write_text(f"{dialog}_F000 :Neutral; ()\n")
        (ev / f"{dialog}.txt").write_text("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"
                                         + "\n".join(blocks) + "\n")
    return rel


def _split(out, k, name):
    return read_table(out / f"fold{k}" / name / "label"), read_table(out / f"fold{k}" / name / "utt2spk")


def test_prepare_leave_one_session_out(tmp_path):
    make_release(tmp_path)
    out = tmp_path / "data"
    s = prepare(tmp_path, out, valid_ratio=0.25, seed=3)  # the folder holding IEMOCAP_full_release
    per_session = {"neu": 2, "hap": 2, "ang": 2, "sad": 2}  # exc merged into hap
    assert s["kept"] == {c: 5 * n for c, n in per_session.items()}
    assert s["dropped"] == {"fru": 5, "sur": 5, "xxx": 5}
    tested = []
    for k in range(1, 6):
        sets = {name: _split(out, k, name) for name in ("train", "dev", "test")}
        for name in sets:
            validate_data_dir(out / f"fold{k}" / name, label="label")
        (test_lab, test_spk), (dev_lab, dev_spk), (tr_lab, tr_spk) = (sets["test"], sets["dev"], sets["train"])
        assert {sp[:5] for sp in test_spk.values()} == {f"Ses0{k}"}
        assert all(not sp.startswith(f"Ses0{k}") for sp in {**tr_spk, **dev_spk}.values())
        assert not set(dev_lab) & set(tr_lab)
        assert len(tr_lab) + len(dev_lab) == 32
        assert s["folds"][f"fold{k}"]["dev"] == {c: 2 for c in CLASSES}  # 25% of 8 per class
        assert set(test_lab.values()) == set(CLASSES)
        tested += list(test_lab)
        # speaker = session + the gender letter of the utterance (not of the dialog)
        assert all(sp == f"Ses0{k}{u.rsplit('_', 1)[1][0]}" for u, sp in test_spk.items())
    assert len(tested) == len(set(tested)) == 40
    # seeded: the same dev sets again, another seed another draw
    prepare(tmp_path, tmp_path / "again", valid_ratio=0.25, seed=3)
    assert read_table(tmp_path / "again/fold2/dev/label") == read_table(out / "fold2/dev/label")
    prepare(tmp_path / "IEMOCAP_full_release", tmp_path / "other", valid_ratio=0.25, seed=4)
    assert any(read_table(tmp_path / f"other/fold{k}/dev/label") != read_table(out / f"fold{k}/dev/label")
               for k in range(1, 6))


def test_prepare_errors_name_the_file(tmp_path):
    rel = make_release(tmp_path)
    missing = rel / "Session3/sentences/wav/Ses03M_impro03/Ses03M_impro03_F001.wav"  # an exc (kept as hap)
    missing.unlink()
    with pytest.raises(DataDirError, match=r"Ses03M_impro03.txt:\d+: utterance Ses03M_impro03_F001: "
                                           r"audio file not found: .*Ses03M_impro03_F001.wav"):
        prepare(rel, tmp_path / "data")
    (rel / "Session2/sentences/wav/Ses02F_impro02/Ses02F_impro02_F003.wav").unlink()  # an xxx: not needed
    sf.write(str(missing), np.zeros(1600), 16000, subtype="PCM_16")
    prepare(rel, tmp_path / "data")
    shutil.rmtree(rel / "Session4")
    with pytest.raises(DataDirError, match=r"Session4: missing"):
        prepare(rel, tmp_path / "data")


def test_synthetic_iemocap_prepares_and_sounds_emotional(tmp_path):
    """Two kept utterances per actor (and one dropped), all five sessions: layout, the
    same preparer, and loudness that follows the emotion."""
    from adapters.data.iemocap import session_items
    from adapters.synth import iemocap as synth

    rel = synth.build(tmp_path / "synth", utts_per_actor=2, seed=0, nj=2)
    assert rel == tmp_path / "synth" / "IEMOCAP_full_release"
    ev = sorted(rel.glob("Session*/dialog/EmoEvaluation/*.txt"))
    assert [p.parent.parent.parent.name for p in ev] == [f"Session{s}" for s in range(1, 6)]
    text = ev[0].read_text()
    assert text.startswith("% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n[")
    assert "\nC-E" in text and "\nA-E" in text and "; dom  " in text
    s = prepare(tmp_path / "synth", tmp_path / "data")
    assert sum(s["kept"].values()) == 20 and sum(s["dropped"].values()) == 10
    assert all(s["kept"][c] >= 4 for c in CLASSES)
    for k in range(1, 6):
        validate_data_dir(tmp_path / f"data/fold{k}/test", label="label")
    spk = {sp for k in range(1, 6) for sp in read_table(tmp_path / f"data/fold{k}/test/utt2spk").values()}
    assert spk == {f"Ses0{n}{g}" for n in range(1, 6) for g in "FM"}
    # audio: 16 kHz mono 16 bit, angry clips louder (RMS) than sad ones
    from collections import Counter

    level = {"ang": [], "sad": []}
    for ses in range(1, 6):
        for utt, wav, label, _ in session_items(rel, ses, Counter()):
            info = sf.info(wav)
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            if label in level:
                x, _ = sf.read(wav)
                level[label].append(20 * np.log10(np.sqrt(np.mean(x ** 2))))
    assert np.mean(level["ang"]) > np.mean(level["sad"]) + 6
    # cached: a second build is a no-op
    stamp = (tmp_path / "synth" / ".synth_complete.json").stat().st_mtime_ns
    assert synth.build(tmp_path / "synth", utts_per_actor=2, seed=0) == rel
    assert (tmp_path / "synth" / ".synth_complete.json").stat().st_mtime_ns == stamp


def test_synth_never_overwrites_a_foreign_release(tmp_path):
    from adapters.synth import iemocap as synth
    from adapters.synth.espeak import SynthesisError

    (tmp_path / "IEMOCAP_full_release" / "Session1").mkdir(parents=True)
    with pytest.raises(SynthesisError, match="not written by this synthesizer"):
        synth.build(tmp_path, utts_per_actor=1)
    assert (tmp_path / "IEMOCAP_full_release" / "Session1").is_dir()
