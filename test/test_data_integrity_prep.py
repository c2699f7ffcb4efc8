"""Bad corpus input never becomes silent wrong data (issue 20, classes 1, 3, 4, 5, 10):
duplicate ids, TORGO's transcript normalisation, malformed annotation lines, leakage
between train/dev/test, and short or broken auxiliary files, in every corpus preparer.
Each test builds the bad input in tmp_path and checks the error (file, line, both
places, the overlap) or the count."""
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adapters.data import iemocap, librispeech, speech_commands, torgo, trials, voxceleb
from adapters.data.kaldi import DataDirError, LineCounts, Origins, check_disjoint, read_table, write_table
from test_data_tools import make_librispeech
from test_iemocap import EXCERPT, make_release
from test_voxceleb import IDEN_SPLIT, VERI_TEST2, fake_root


def _wav(path, seconds=0.2, fs=16000, noise=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(0).uniform(-0.1, 0.1, int(fs * seconds)) if noise else np.zeros(int(fs * seconds))
    sf.write(str(path), x, fs, subtype="PCM_16")
    return path


# --------------------------------------------------------------------------- shared helpers

def test_origins_and_check_disjoint_name_both_places_and_the_overlap():
    o = Origins("utterance id")
    o.add("a", "f.txt:1")
    with pytest.raises(DataDirError, match=r"g.txt:7: duplicate utterance id 'a', already at f.txt:1"):
        o.add("a", "g.txt:7")
    check_disjoint({"train": ["a", "b"], "test": ["c"]})
    with pytest.raises(DataDirError, match=r"ctx: train and test share 2 utterance\(s\).*: b, c$"):
        check_disjoint({"train": ["a", "b", "c"], "dev": ["d"], "test": ["b", "c"]}, context="ctx")
    # by speaker, with a pair the protocol lets share
    sets = {"train": ["s1-1", "s2-1"], "dev": ["s1-2"], "test": ["s3-1"]}
    spk = lambda u: u.split("-")[0]  # noqa: E731
    check_disjoint(sets, "speaker", key=spk, allowed=[("train", "dev")])
    with pytest.raises(DataDirError, match=r"train and dev share 1 speaker\(s\).*: s1"):
        check_disjoint(sets, "speaker", key=spk)
    many = [str(i) for i in range(30)]
    with pytest.raises(DataDirError, match=r"share 30 .*\.\.\. \(30 in all\)"):
        check_disjoint({"a": many, "b": many})


def test_read_table_duplicate_names_both_lines(tmp_path):
    p = tmp_path / "text"
    p.write_text("u0 A\nu1 B\nu1 C\n")
    with pytest.raises(DataDirError, match=r"text:3: duplicate id 'u1' \(first on line 2\)"):
        read_table(p)


# --------------------------------------------------------------------------- LibriSpeech

def test_librispeech_duplicate_id_in_one_transcript_names_both_lines(tmp_path):
    d = make_librispeech(tmp_path)
    tr = d / "84-121123.trans.txt"
    tr.write_text(tr.read_text() + "84-121123-0001 ANOTHER TEXT\n")
    with pytest.raises(DataDirError, match=r"trans.txt:4: duplicate utterance id '84-121123-0001', "
                                           r"already at .*84-121123.trans.txt:2"):
        librispeech.prepare(tmp_path, "dev-clean", tmp_path / "data")


def test_librispeech_duplicate_id_across_transcripts_of_a_set(tmp_path):
    d = make_librispeech(tmp_path)
    (d / "84-121123.copy.trans.txt").write_text("84-121123-0002 SOMETHING ELSE\n")
    with pytest.raises(DataDirError, match=r"84-121123.trans.txt:3: duplicate utterance id '84-121123-0002', "
                                           r"already at .*84-121123.copy.trans.txt:1"):
        librispeech.prepare(tmp_path, "dev-clean", tmp_path / "data")


def test_librispeech_counts_blank_lines_and_unlisted_audio(tmp_path):
    d = make_librispeech(tmp_path, n=3)
    tr = d / "84-121123.trans.txt"
    tr.write_text(tr.read_text().replace("84-121123-0002 GO DO YOU HEAR NUMBER 2\n", "\n\n"))
    s = {}
    assert librispeech.prepare(tmp_path, "dev-clean", tmp_path / "data", s) == 2
    assert s["lines"] == {"files": 1, "read": 4, "used": 2, "blank": 2}
    assert s["unlisted_audio"] == 1  # 84-121123-0002.flac: in no transcript
    assert "read 4 lines of 1 file(s), used 2; not used: 2 blank" in s["summary"]
    assert "1 flac file(s) in no transcript" in s["summary"] and "84-121123-0002.flac" in s["summary"]


def test_librispeech_empty_transcript_file_is_an_error(tmp_path):
    d = make_librispeech(tmp_path)
    make_librispeech(tmp_path, spk="85", chapter="1")
    (tmp_path / "dev-clean/85/1/85-1.trans.txt").write_text("")
    with pytest.raises(DataDirError, match=r"85-1.trans.txt: no transcript line"):
        librispeech.prepare(tmp_path, "dev-clean", tmp_path / "data")
    assert d.is_dir()


def test_librispeech_sets_must_not_share_utterances_or_speakers(tmp_path, capsys):
    make_librispeech(tmp_path, part="dev-clean", spk="84", chapter="121123")
    make_librispeech(tmp_path, part="test-clean", spk="85", chapter="7")
    librispeech.prepare(tmp_path, "dev-clean", tmp_path / "dev")
    librispeech.prepare(tmp_path, "test-clean", tmp_path / "test")
    assert librispeech.check_sets([tmp_path / "dev", tmp_path / "test"]) == 2
    # the same reader in another chapter of the test set: speaker leakage
    make_librispeech(tmp_path, part="test-other", spk="84", chapter="999")
    librispeech.prepare(tmp_path, "test-other", tmp_path / "other")
    with pytest.raises(DataDirError, match=r"dev and .*other share 1 speaker\(s\).*: 84$"):
        librispeech.check_sets([tmp_path / "dev", tmp_path / "test", tmp_path / "other"])
    # the same utterance in two sets
    write_table(tmp_path / "leak" / "utt2spk", {"84-121123-0001": "84-121123"})
    with pytest.raises(DataDirError, match=r"share 1 utterance\(s\).*: 84-121123-0001"):
        librispeech.check_sets([tmp_path / "dev", tmp_path / "leak"])
    with pytest.raises(SystemExit, match="leakage"):
        librispeech.main(["--check_disjoint", str(tmp_path / "dev"), str(tmp_path / "leak")])
    librispeech.main(["--check_disjoint", str(tmp_path / "dev"), str(tmp_path / "test")])
    assert "2 sets share no utterance and no speaker" in capsys.readouterr().out


# --------------------------------------------------------------------------- IEMOCAP

def test_iemocap_line_that_lost_its_bracket_is_an_error_with_file_and_line(tmp_path):
    p = tmp_path / "Ses01F_impro01.txt"
    p.write_text(EXCERPT.replace("[10.0100 - 11.3925]", "10.0100 - 11.3925]"))
    with pytest.raises(DataDirError, match=r"Ses01F_impro01.txt:12: expected '\[start - end\]"):
        iemocap.parse_emo_evaluation(p)


def test_iemocap_counts_every_line_by_kind(tmp_path):
    p = tmp_path / "Ses01F_impro01.txt"
    p.write_text(EXCERPT + "some stray note\n")
    lines = LineCounts("EmoEvaluation")
    out = iemocap._parse(p, lines)
    assert len(out) == 7
    d = lines.as_dict()
    assert d["read"] == len((EXCERPT + "x\n").splitlines()) and d["used"] == 7
    assert d["read"] == d["used"] + d["blank"] + d["header"] + d["evaluator"] + d["unrecognised"]
    assert d["unrecognised"] == 1 and d["header"] == 1
    assert f"1 unrecognised (first: {p}:{d['read']})" in lines.summary()


def test_iemocap_prepare_reports_lines_read_and_used(tmp_path):
    make_release(tmp_path)
    s = iemocap.prepare(tmp_path, tmp_path / "data")
    assert s["lines"]["used"] == 55 and s["lines"]["files"] == 5
    assert s["lines"]["read"] == sum(v for k, v in s["lines"].items() if k not in ("files", "read"))
    assert s["unlabelled_audio"] == 0


def test_iemocap_utterance_labelled_in_two_files_names_both(tmp_path):
    rel = make_release(tmp_path)
    ev = rel / "Session1/dialog/EmoEvaluation"
    (ev / "Ses01M_extra.txt").write_text("[1.0 - 2.0]\tSes01M_impro01_F000\tang\t[2.5, 2.5, 2.5]\n")
    with pytest.raises(DataDirError, match=r"Ses01M_impro01.txt:3: duplicate utterance label "
                                           r"'Ses01M_impro01_F000', already at .*Ses01M_extra.txt:1"):
        iemocap.prepare(tmp_path, tmp_path / "data")


def test_iemocap_empty_annotation_file_and_unlabelled_wavs(tmp_path, capsys):
    rel = make_release(tmp_path)
    ev = rel / "Session2/dialog/EmoEvaluation/Ses02F_impro02.txt"
    text = ev.read_text()
    ev.write_text("")
    with pytest.raises(DataDirError, match=r"Ses02F_impro02.txt: no utterance line"):
        iemocap.prepare(tmp_path, tmp_path / "data")
    # truncated: the last blocks lost; their wavs are counted, not silently ignored
    ev.write_text(text[: text.index("[18.0000")])
    iemocap.main([str(tmp_path), str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert re.search(r"warning: 2 wav file\(s\) have no EmoEvaluation label.*Ses02F_impro02_[FM]00\d.wav", out)
    assert "EmoEvaluation: read" in out


def test_iemocap_folds_are_checked_for_leakage(tmp_path, monkeypatch):
    make_release(tmp_path)
    real = iemocap.dev_split

    def leaky(items, ratio, seed):  # a bug that put a test utterance into training
        train, dev = real(items, ratio, seed)
        return train + [("Ses01M_impro01_F000", "x.wav", "neu", "Ses01F")], dev

    monkeypatch.setattr(iemocap, "dev_split", leaky)
    with pytest.raises(DataDirError, match=r"fold1: train and test share 1 utterance\(s\).*Ses01M_impro01_F000"):
        iemocap.prepare(tmp_path, tmp_path / "data")

    def spk_leak(items, ratio, seed):
        train, dev = real(items, ratio, seed)
        return train + [("Ses09F_x_F000", "x.wav", "neu", "Ses01F")], dev

    monkeypatch.setattr(iemocap, "dev_split", spk_leak)
    with pytest.raises(DataDirError, match=r"fold1: train and test share 1 speaker\(s\).*Ses01F"):
        iemocap.prepare(tmp_path, tmp_path / "data")


# --------------------------------------------------------------------------- Speech Commands

def make_sc(root, noise_sec=3.0):
    """v0.01 layout split by speaker: aaaa train, bbbb dev, cccc test."""
    for w in ("yes", "no", "marvin"):
        for h in ("aaaa1111", "bbbb2222", "cccc3333"):
            _wav(root / w / f"{h}_nohash_0.wav", 1.0)
    _wav(root / "_background_noise_" / "white_noise.wav", noise_sec, noise=True)
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nno/bbbb2222_nohash_0.wav\n"
                                              "marvin/bbbb2222_nohash_0.wav\n")
    (root / "testing_list.txt").write_text("yes/cccc3333_nohash_0.wav\nno/cccc3333_nohash_0.wav\n"
                                           "marvin/cccc3333_nohash_0.wav\n")
    return root


def test_speech_commands_valid_lists_and_summary(tmp_path):
    root = make_sc(tmp_path / "sc")
    (root / "testing_list.txt").write_text((root / "testing_list.txt").read_text() + "\n")
    s = {}
    splits = speech_commands.prepare(root, tmp_path / "out", summary=s)
    assert s["lines"] == {"files": 2, "read": 7, "used": 6, "blank": 1}
    assert "read 7 lines of 2 file(s), used 6; not used: 1 blank" in s["summary"]
    assert {speech_commands.speaker_of(c[1]) for c in splits["dev"]} == {"bbbb2222", "noise"}


def test_speech_commands_clip_in_both_lists_names_both_places(tmp_path):
    root = make_sc(tmp_path / "sc")
    (root / "testing_list.txt").write_text("yes/cccc3333_nohash_0.wav\nyes/bbbb2222_nohash_0.wav\n")
    with pytest.raises(DataDirError, match=r"testing_list.txt:2: duplicate clip 'yes/bbbb2222_nohash_0.wav', "
                                           r"already at .*validation_list.txt:1"):
        speech_commands.prepare(root, tmp_path / "out")


def test_speech_commands_clip_twice_in_one_list(tmp_path):
    root = make_sc(tmp_path / "sc")
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nno/bbbb2222_nohash_0.wav\n"
                                              "yes/bbbb2222_nohash_0.wav\n")
    with pytest.raises(DataDirError, match=r"validation_list.txt:3: duplicate clip .*validation_list.txt:1"):
        speech_commands.prepare(root, tmp_path / "out")


def test_speech_commands_speaker_in_two_splits_is_leakage(tmp_path):
    root = make_sc(tmp_path / "sc")
    # bbbb2222's "marvin" left out of the validation list: it falls into train
    (root / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nno/bbbb2222_nohash_0.wav\n")
    with pytest.raises(DataDirError, match=r"train and dev share 1 speaker\(s\), leakage.*: bbbb2222"):
        speech_commands.prepare(root, tmp_path / "out")


def test_speech_commands_separate_test_set_must_not_hold_training_clips(tmp_path):
    root = make_sc(tmp_path / "sc")
    _wav(tmp_path / "test" / "yes" / "aaaa1111_nohash_0.wav", 1.0)  # a training clip
    with pytest.raises(DataDirError, match=r"train and test share 1 clip\(s\).*yes/aaaa1111_nohash_0.wav"):
        speech_commands.prepare(root, tmp_path / "out", test_root=tmp_path / "test")


def test_speech_commands_empty_list_is_an_error(tmp_path):
    root = make_sc(tmp_path / "sc")
    (root / "validation_list.txt").write_text("\n")
    with pytest.raises(DataDirError, match=r"validation_list.txt: no clip listed"):
        speech_commands.prepare(root, tmp_path / "out")


@pytest.mark.parametrize("make, error", [
    (lambda p: p.write_bytes(b""), r"white_noise.wav: unreadable background-noise file"),
    (lambda p: p.write_bytes(b"RIFF garbage"), r"white_noise.wav: unreadable background-noise file"),
    (lambda p: _wav(p, 0.15, noise=True), r"white_noise.wav: background-noise file is 0.15 s long"),
])
def test_speech_commands_broken_or_short_noise_file_is_named(tmp_path, make, error):
    root = make_sc(tmp_path / "sc")
    make(root / "_background_noise_" / "white_noise.wav")
    with pytest.raises(DataDirError, match=error):
        speech_commands.prepare(root, tmp_path / "out")


def test_speech_commands_silence_cuts_are_one_second_and_reproducible(tmp_path):
    root = make_sc(tmp_path / "sc")
    _wav(root / "_background_noise_" / "pink_noise.wav", 2.0, noise=True)
    first = speech_commands.silence_clips(root, tmp_path / "a", 5, seed=1)
    data = [sf.read(p)[0] for p in first]
    assert all(len(x) == 16000 for x in data)
    # a cut truncated by an interrupted run is rewritten, and the others stay the same
    sf.write(first[2], data[2][:2400], 16000, subtype="PCM_16")
    Path(first[1]).unlink()
    again = speech_commands.silence_clips(root, tmp_path / "a", 5, seed=1)
    assert again == first
    assert all(np.array_equal(sf.read(p)[0], x) for p, x in zip(again, data))


# --------------------------------------------------------------------------- VoxCeleb and trial lists

def test_voxceleb_trial_listed_twice_names_both_lines(tmp_path):
    root = fake_root(tmp_path)
    first = VERI_TEST2.splitlines()[1].split()
    (root / "veri_test2.txt").write_text(VERI_TEST2 + f"0 {first[2]} {first[1]}\n")
    with pytest.raises(DataDirError, match=r"veri_test2.txt:5: the trial .* is already on line 2"):
        voxceleb.read_trials(root / "veri_test2.txt", root / "wav")


def test_voxceleb_file_in_two_identification_splits(tmp_path):
    root = fake_root(tmp_path)
    (root / "iden_split.txt").write_text(IDEN_SPLIT + "1 id10001/1zcIwhmdeo4/00002.wav\n")
    with pytest.raises(DataDirError,
                       match=r"iden_split.txt:12: id10001/1zcIwhmdeo4/00002.wav already listed on line 2"):
        voxceleb.prepare(root, tmp_path / "data", dev_trials=0)


def test_voxceleb_counts_lines_and_checks_asv_speakers(tmp_path, monkeypatch):
    root = fake_root(tmp_path)
    (root / "iden_split.txt").write_text(IDEN_SPLIT.replace("\n", "\n\n", 1))
    s = voxceleb.prepare(root, tmp_path / "data", dev_trials=0)
    assert s["lines"]["iden_split"] == {"files": 1, "read": 12, "used": 11, "blank": 1}
    assert s["lines"]["trials"] == {"files": 1, "read": 4, "used": 4}
    # a bug that drew a test utterance into the validation trials is caught before anything is written
    monkeypatch.setattr(voxceleb, "draw_dev_trials",
                        lambda rels, n, seed: ([], [rels[0], "id10270/x6uYqmx31kE/00001.wav"]))
    with pytest.raises(DataDirError,
                       match=r"ASV: asv_dev and asv_test share 1 utterance\(s\).*id10270-x6uYqmx31kE-00001"):
        voxceleb.prepare(root, tmp_path / "data2", dev_trials=2)
    assert not (tmp_path / "data2" / "asv_dev").exists()


def test_trials_file_duplicates_and_self_trials(tmp_path):
    p = tmp_path / "trials"
    utts = {"a", "b", "c"}
    p.write_text("1 a b\n0 a c\n1 b a\n")
    with pytest.raises(DataDirError, match=r"trials:3: the trial b a is already on line 1"):
        trials.read_trials(p, utts)
    p.write_text("1 a b\n0 c c\n")
    with pytest.raises(DataDirError, match=r"trials:2: a trial of c against itself"):
        trials.read_trials(p, utts)


# --------------------------------------------------------------------------- TORGO

def fake_torgo(root, prompts, speakers=("F01", "M02", "M03", "FC01", "MC01"), group=False):
    """One session per speaker; ``prompts`` the prompt texts (or bytes), one utterance each."""
    for spk in speakers:
        base = root / re.sub(r"\d+$", "", spk) / spk if group else root / spk
        for k, text in enumerate(prompts, 1):
            sess = base / "Session1"
            (sess / "prompts").mkdir(parents=True, exist_ok=True)
            f = sess / "prompts" / f"{k:04d}.txt"
            f.write_bytes(text) if isinstance(text, bytes) else f.write_text(text + "\n", encoding="utf-8")
            (sess / "wav_arrayMic").mkdir(parents=True, exist_ok=True)
            (sess / "wav_arrayMic" / f"{k:04d}.wav").write_bytes(b"")  # preparation does not read audio
    return root


WORDS = ["yes", "no", "up", "down", "left", "right", "stop", "go"]


@pytest.mark.parametrize("prompt, text", [
    ("Call 911 now", "CALL NINE HUNDRED ELEVEN NOW"),
    ("café", "CAFE"),
    ("Zoë's naïve façade", "ZOE'S NAIVE FACADE"),
    ("Straße", "STRASSE"),
    ("Don’t stop, Bob!", "DON'T STOP BOB"),
    ("It is 3.5 metres.", "IT IS THREE POINT FIVE METRES"),
    ("the 21st of May", "THE TWENTY FIRST OF MAY"),
    ("Agent 007", "AGENT ZERO ZERO SEVEN"),
    ("1,000 people", "ONE THOUSAND PEOPLE"),
    ("50% & more", "FIFTY PERCENT AND MORE"),
    ("Word1, again!", "WORD ONE AGAIN"),
    ("0", "ZERO"),
    ("12 13 20 45 100 2024", "TWELVE THIRTEEN TWENTY FORTY FIVE ONE HUNDRED TWO THOUSAND TWENTY FOUR"),
])
def test_torgo_normalisation_maps_numbers_accents_and_symbols(prompt, text):
    assert torgo.normalize_prompt(prompt) == (text, None)
    assert torgo.normalize(prompt) == text


@pytest.mark.parametrize("prompt", ["$5", "αβγ", "x\ufffdy", "#1", "a * b", "日本"])
def test_torgo_normalisation_never_deletes_unmapped_content(prompt):
    assert torgo.normalize_prompt(prompt) == ("", "unmapped character")
    with pytest.raises(ValueError, match="unmapped character"):
        torgo.normalize(prompt)


def test_torgo_prepare_spells_out_and_counts_by_reason(tmp_path, capsys):
    root = fake_torgo(tmp_path / "TORGO", WORDS + ["Call 911 now", "café", "$5 please", b"ab\xffcd", b""])
    s = torgo.prepare(root, tmp_path / "data", zeroshot=["M03"], new=["M02"])
    assert s["skipped_prompts"] == {"unmapped character": 10, "empty": 5}  # $5, the bad byte; the empty file
    assert s["normalised_prompts"] == {"accents folded": 5, "numbers spelled out": 5}
    texts = {v for d in ("train", "dev", "test", "test_zeroshot", "train_new", "dev_new", "test_new")
             for v in read_table(tmp_path / "data" / d / "text").values()}
    assert {"CALL NINE HUNDRED ELEVEN NOW", "CAFE"} <= texts
    assert not any("CAF" == t or t == "CALL NOW" for t in texts)
    torgo.main([str(root), str(tmp_path / "data2"), "--zeroshot", "M03", "--new", "M02"])
    out = capsys.readouterr().out
    assert "'unmapped character': 10" in out and "normalised" in out and "numbers spelled out" in out


def test_torgo_speaker_in_two_folders_is_an_error(tmp_path):
    root = fake_torgo(tmp_path / "TORGO", WORDS)
    fake_torgo(root, WORDS, speakers=("F01",), group=True)  # F01/ and F/F01/
    with pytest.raises(DataDirError, match=r"speaker F01 is in two folders, .*TORGO/F/F01 and .*TORGO/F01"):
        torgo.prepare(root, tmp_path / "data")


def test_torgo_speaker_in_another_groups_folder_is_an_error(tmp_path):
    root = fake_torgo(tmp_path / "TORGO", WORDS, group=True)
    (root / "FC" / "F01").parent.mkdir(exist_ok=True)
    (root / "F" / "F01").rename(root / "FC" / "F01")  # an impaired speaker among the controls
    with pytest.raises(DataDirError, match=r"FC/F01: speaker F01 is in the folder of group FC \(control"):
        torgo.prepare(root, tmp_path / "data")


def test_torgo_sets_and_roles_are_checked(tmp_path):
    utts = {f"{spk}-S1-array-{k}": ("w", "T", spk, torgo.task_of(spk))
            for spk in ("F01", "M02", "FC01") for k in range(8)}
    seen, sets = torgo.split(utts, zeroshot=["M02"], new=[])
    torgo.check_sets(utts, sets, ["M02"], [])
    leak = dict(sets)
    leak["test"] = sets["test"] + sets["train"][:1]
    with pytest.raises(DataDirError, match=r"test and train share 1 utterance\(s\).*" + sets["train"][0]):
        torgo.check_sets(utts, leak, ["M02"], [])
    roles = dict(sets)
    roles["train"] = sets["train"] + [u for u in sets["test_zeroshot"][:1]]
    roles["test_zeroshot"] = sets["test_zeroshot"][1:]
    with pytest.raises(DataDirError, match=r"speaker M02 \(task M02, zero-shot\) has utterances in sets of the roles "
                                           r"\['seen', 'zero-shot'\]"):
        torgo.check_sets(utts, roles, ["M02"], [])


def test_torgo_same_utterance_twice_in_a_listing(tmp_path):
    wav = tmp_path / "F01" / "Session1" / "wav_arrayMic" / "0001.wav"
    with pytest.raises(DataDirError, match=r"utterance F01-Session1-array-0001 twice"):
        torgo.utterances([(wav, "yes"), (wav, "no")])


# --------------------------------------------------------------------------- data fingerprints

def _touch_all(d: Path, seconds: int):
    """Every file under ``d`` dated ``seconds`` later (the same bytes: as if written again)."""
    import os

    for p in d.rglob("*"):
        if p.is_file():
            st = p.stat()
            os.utime(p, ns=(st.st_atime_ns + seconds * 10**9, st.st_mtime_ns + seconds * 10**9))


def test_data_prepared_again_byte_for_byte_keeps_its_fingerprint(tmp_path):
    """Stages 1 and 3 run again from scratch (new files, new mtimes, the same bytes): the same
    fingerprint, for the stage stamps, the feature cache and results.json alike; an edit of any
    table changes it."""
    import shutil

    from adapters import feature_cache, results
    from adapters.data.fingerprint import TABLES, data_fingerprint
    from adapters.data.format import format_data_dir

    make_librispeech(tmp_path / "corpus")
    data, dump = tmp_path / "data", tmp_path / "dump" / "raw"

    def prepare(later=0):
        for p in (data, tmp_path / "dump"):
            shutil.rmtree(p, ignore_errors=True)
        librispeech.prepare(tmp_path / "corpus", "dev-clean", data)
        format_data_dir(data, dump, tmp_path / "dump" / "audio", nj=1)
        _touch_all(tmp_path / "data", later)
        _touch_all(tmp_path / "dump", later)
        rec = results.set_record(dump, [dump / "text"])
        return {"data": data_fingerprint(data), "dump": data_fingerprint(dump), "cache": feature_cache.data_fingerprint(dump),
                "provenance": rec["data"], "id": rec["id"]}

    first = prepare()
    assert first["dump"] == first["cache"] == first["provenance"] and first["id"]
    assert prepare(later=100) == first
    # one implementation: the feature cache's and results.json's are this one
    assert feature_cache.data_fingerprint is data_fingerprint
    # any table's edit is another fingerprint (and another id); a file that is not a table is not
    for name in ("wav.scp", "text", "utt2spk", "utt2num_samples"):
        assert name in TABLES
        f = dump / name
        keep = f.read_bytes()
        f.write_bytes(keep.replace(b"84-121123-0001 ", b"84-121123-0001  ", 1))
        assert data_fingerprint(dump) != first["dump"], name
        assert results.set_record(dump, [dump / "text"])["id"] != first["id"], name
        f.write_bytes(keep)
    (dump / ".done").write_text("stamp\n")
    assert data_fingerprint(dump) == first["dump"]
    with pytest.raises(FileNotFoundError, match="no such data dir"):
        data_fingerprint(tmp_path / "gone")
