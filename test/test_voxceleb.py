"""VoxCeleb1: the list parsers on excerpts in the real formats, the SID/ASV data dirs,
and one tiny synthetic corpus prepared by the same code."""
import shutil

import numpy as np
import pytest
import soundfile as sf

from adapters.data import voxceleb as vox
from adapters.data.kaldi import DataDirError, read_table, validate_data_dir

# excerpts in the format of the real iden_split.txt and veri_test2.txt
IDEN_SPLIT = """\
3 id10001/1zcIwhmdeo4/00001.wav
3 id10001/1zcIwhmdeo4/00002.wav
1 id10001/7gWzIy6yIIk/00001.wav
2 id10001/7gWzIy6yIIk/00002.wav
1 id10001/7gWzIy6yIIk/00003.wav
3 id10002/C7k7C-PDvAA/00001.wav
2 id10002/xTOk1Jz-F_g/00001.wav
1 id10002/xTOk1Jz-F_g/00002.wav
1 id10002/xTOk1Jz-F_g/00003.wav
1 id10270/x6uYqmx31kE/00001.wav
3 id10270/8jEAjG6SegY/00008.wav
"""
VERI_TEST2 = """\
1 id10270/x6uYqmx31kE/00001.wav id10270/8jEAjG6SegY/00008.wav
0 id10270/x6uYqmx31kE/00001.wav id10300/ize_eiCFEg0/00003.wav
1 id10270/x6uYqmx31kE/00001.wav id10270/GWXujl-xAVM/00017.wav
0 id10270/x6uYqmx31kE/00001.wav id10273/0OCW1HUxZyg/00001.wav
"""
EXTRA = ("id10002/C7k7C-PDvAA/00002.wav", "id10270/GWXujl-xAVM/00017.wav",
         "id10300/ize_eiCFEg0/00003.wav", "id10273/0OCW1HUxZyg/00001.wav")


def fake_root(base, veri_name="veri_test2.txt"):
    """<base>/VoxCeleb1 with tiny silent wavs at every listed path."""
    root = base / "VoxCeleb1"
    rels = [line.split()[1] for line in IDEN_SPLIT.splitlines()] + list(EXTRA)
    for rel in rels:
        (root / "wav" / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(root / "wav" / rel), np.zeros(1600), 16000, subtype="PCM_16")
    (root / "iden_split.txt").write_text(IDEN_SPLIT)
    (root / veri_name).write_text(VERI_TEST2)
    return root


def test_read_lists_in_the_real_formats(tmp_path):
    root = fake_root(tmp_path)
    split = vox.read_iden_split(root / "iden_split.txt", root / "wav")
    assert split[:2] == [(3, "id10001/1zcIwhmdeo4/00001.wav"), (3, "id10001/1zcIwhmdeo4/00002.wav")]
    assert [c for c, _ in split].count(2) == 2 and len(split) == 11
    trials = vox.read_trials(root / "veri_test2.txt", root / "wav")
    assert trials[1] == (0, "id10270/x6uYqmx31kE/00001.wav", "id10300/ize_eiCFEg0/00003.wav")
    assert [t[0] for t in trials] == [1, 0, 1, 0]
    assert vox.utt_id("id10002/xTOk1Jz-F_g/00003.wav") == "id10002-xTOk1Jz-F_g-00003"


@pytest.mark.parametrize("line, error", [
    ("3 id10001/1zcIwhmdeo4/00001.wav extra", r"iden_split.txt:2: expected '<1\|2\|3> idNNNNN"),
    ("3 id10001_1zcIwhmdeo4_00001.wav", r"iden_split.txt:2: expected 'idNNNNN/<video>/NNNNN.wav'"),
    ("3 id10001/1zcIwhmdeo4/1.wav", r"iden_split.txt:2: expected 'idNNNNN/<video>/NNNNN.wav'"),
    ("4 id10001/1zcIwhmdeo4/00002.wav", r"iden_split.txt:2: unknown split code '4'"),
    ("1 id10001/1zcIwhmdeo4/00009.wav", r"iden_split.txt:2: listed file not found: .*00009.wav"),
    ("1 id10001/1zcIwhmdeo4/00001.wav", r"iden_split.txt:2: .*already listed on line 1"),
])
def test_bad_iden_split_lines_are_named(tmp_path, line, error):
    root = fake_root(tmp_path)
    lines = IDEN_SPLIT.splitlines()
    (root / "iden_split.txt").write_text("\n".join([lines[0], line] + lines[2:]) + "\n")
    with pytest.raises(DataDirError, match=error):
        vox.read_iden_split(root / "iden_split.txt", root / "wav")


@pytest.mark.parametrize("line, error", [
    ("1 id10270/x6uYqmx31kE/00001.wav", r"veri_test2.txt:3: expected '<0\|1> <wav> <wav>'"),
    ("2 id10270/x6uYqmx31kE/00001.wav id10270/GWXujl-xAVM/00017.wav", r"veri_test2.txt:3: unknown trial label '2'"),
    ("1 id10270/x6uYqmx31kE/00001.wav id10270/GWXujl-xAVM/00018.wav", r"veri_test2.txt:3: listed file not found"),
    ("1 id10270/x6uYqmx31kE/00001.wav id10270/GWXujl-xAVM/17.wav", r"veri_test2.txt:3: expected 'idNNNNN"),
    ("1 id10270/x6uYqmx31kE/00001.wav id10273/0OCW1HUxZyg/00001.wav", r"veri_test2.txt:3: a target trial between"),
])
def test_bad_trial_lines_are_named(tmp_path, line, error):
    root = fake_root(tmp_path)
    lines = VERI_TEST2.splitlines()
    (root / "veri_test2.txt").write_text("\n".join(lines[:2] + [line] + lines[3:]) + "\n")
    with pytest.raises(DataDirError, match=error):
        vox.read_trials(root / "veri_test2.txt", root / "wav")


def _spk(d):
    return set(read_table(d / "utt2spk").values())


def test_prepare_sid_and_asv(tmp_path):
    fake_root(tmp_path)
    out = tmp_path / "data"
    s = vox.prepare(tmp_path, out, dev_trials=4)  # the folder holding VoxCeleb1/
    assert s["trial_list"].endswith("veri_test2.txt")
    assert {k: v["utterances"] for k, v in s["sets"].items()} == {
        "sid_train": 5, "sid_dev": 2, "sid_test": 4, "asv_train": 6, "asv_dev": 4, "asv_test": 5}
    for name in s["sets"]:
        validate_data_dir(out / name, label="label")
    assert read_table(out / "sid_dev" / "label") == {"id10001-7gWzIy6yIIk-00002": "id10001",
                                                     "id10002-xTOk1Jz-F_g-00001": "id10002"}
    # verification trains and tests on disjoint speakers
    assert _spk(out / "asv_train") == {"id10001", "id10002"}
    assert _spk(out / "asv_test") == {"id10270", "id10273", "id10300"}
    # asv_dev: held out of asv_train, its speakers, trials over its own utterances, balanced
    dev = set(read_table(out / "asv_dev" / "wav.scp"))
    train = set(read_table(out / "asv_train" / "wav.scp"))
    assert not dev & train and _spk(out / "asv_dev") <= _spk(out / "asv_train")
    assert len(dev | train) == 10  # every utterance of id10001 and id10002, once
    dev_trials = [line.split() for line in (out / "asv_dev" / "trials").read_text().splitlines()]
    assert sorted(t[0] for t in dev_trials) == ["0", "0", "1", "1"]
    for y, a, b in dev_trials:
        assert {a, b} <= dev and (y == "1") == (a.split("-")[0] == b.split("-")[0])
    # the official trials, in order, in utterance ids
    assert (out / "asv_test" / "trials").read_text().splitlines() == [
        "1 id10270-x6uYqmx31kE-00001 id10270-8jEAjG6SegY-00008",
        "0 id10270-x6uYqmx31kE-00001 id10300-ize_eiCFEg0-00003",
        "1 id10270-x6uYqmx31kE-00001 id10270-GWXujl-xAVM-00017",
        "0 id10270-x6uYqmx31kE-00001 id10273-0OCW1HUxZyg-00001",
    ]
    assert s["sets"]["asv_test"]["trials"] == 4 and s["sets"]["asv_test"]["targets"] == 2


def test_trial_list_fallback_and_errors(tmp_path, capsys):
    root = fake_root(tmp_path, veri_name="veri_test.txt")
    s = vox.prepare(root, tmp_path / "data", dev_trials=0)
    assert s["trial_list"].endswith("veri_test.txt") and "asv_dev" not in s["sets"]
    (root / "veri_test.txt").rename(root / "my_trials.txt")
    with pytest.raises(DataDirError, match=r"expected veri_test2.txt or veri_test.txt"):
        vox.prepare(root, tmp_path / "data")
    vox.main([str(root), str(tmp_path / "data2"), "--trials", str(root / "my_trials.txt")])
    printed = capsys.readouterr().out
    assert "asv_test: 3 speakers, 5 utterances, 4 trials (2 target)" in printed
    assert "sid_train: 3 speakers, 5 utterances" in printed
    with pytest.raises(SystemExit, match="VoxCeleb1 root not found"):
        vox.main([str(tmp_path / "nowhere"), str(tmp_path / "data3")])


def test_tiny_synthetic_voxceleb_prepares_cleanly(tmp_path):
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox are needed")
    from adapters.synth import voxceleb as synth

    root = synth.build(tmp_path / "c", speakers=4, test_speakers=2, videos=2, utts_per_video=2,
                       trials=10, seed=1, nj=1)
    assert root == tmp_path / "c" / "VoxCeleb1"
    wavs = sorted(root.glob("wav/*/*/*.wav"))
    assert len(wavs) == 16
    assert {w.parent.parent.name for w in wavs} == {"id10001", "id10002", "id10270", "id10271"}
    assert {w.name for w in wavs} == {"00001.wav", "00002.wav"}
    assert all(len(w.parent.name) == 11 for w in wavs)
    info = sf.info(str(wavs[0]))
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert 1.0 < info.duration < 8.0
    codes = [line.split()[0] for line in (root / "iden_split.txt").read_text().splitlines()]
    assert sorted(codes) == ["1"] * 4 + ["2"] * 4 + ["3"] * 8
    trials = [line.split() for line in (root / "veri_test2.txt").read_text().splitlines()]
    assert sorted(t[0] for t in trials) == ["0"] * 5 + ["1"] * 5
    for _, a, b in trials:
        assert a.split("/")[1] != b.split("/")[1]  # always two different videos
        assert a.startswith("id1027") and b.startswith("id1027")
    mtime = wavs[0].stat().st_mtime_ns
    assert synth.build(tmp_path / "c", speakers=4, test_speakers=2, videos=2, utts_per_video=2,
                       trials=10, seed=1, nj=1) == root
    assert wavs[0].stat().st_mtime_ns == mtime  # cached: nothing rewritten
    s = vox.prepare(root, tmp_path / "data")
    for name in s["sets"]:
        validate_data_dir(tmp_path / "data" / name, label="label")
    assert _spk(tmp_path / "data" / "asv_train") == {"id10001", "id10002"}
    assert _spk(tmp_path / "data" / "asv_test") == {"id10270", "id10271"}
    assert s["sets"]["asv_dev"]["trials"] > 0 and s["sets"]["asv_train"]["utterances"] >= 2


def test_synthesis_plan_defaults():
    from pathlib import Path

    from adapters.synth import voxceleb as synth

    jobs, split, trials = synth.plan(Path("/nonexistent"), **synth.DEFAULTS, seed=0)
    assert len(jobs) == 400 and len(trials) == 300 and sum(t[0] for t in trials) == 150
    spks = sorted({r.split("/")[0] for r in split})
    assert spks[:2] == ["id10001", "id10002"] and spks[-10:] == [f"id{n}" for n in range(10270, 10280)]
    assert sorted(split.values()).count(3) == 40 * 2 and sorted(split.values()).count(2) == 40
    again = synth.plan(Path("/nonexistent"), **synth.DEFAULTS, seed=0)
    assert again[2] == trials and synth.plan(Path("/nonexistent"), **synth.DEFAULTS, seed=1)[2] != trials
    assert synth.speaker_ids(300, 10)[0][268:271] == ["id10269", "id10310", "id10311"]
    with pytest.raises(ValueError, match="leave no training utterance"):
        synth.plan(Path("/nonexistent"), 4, 2, 2, 1, 10)
