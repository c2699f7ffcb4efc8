"""Kaldi data-dir tools: LibriSpeech preparation, validation, format/dump and filter,
and the mini-LibriSpeech synthesis, on small hand-made inputs."""
import json

import numpy as np
import pytest
import soundfile as sf

from adapters.data import format as fmt
from adapters.data.kaldi import DataDirError, read_table, validate_data_dir, write_table
from adapters.data.librispeech import prepare


def tone(path, sec=0.5, fs=16000, freq=440.0):
    t = np.arange(int(sec * fs)) / fs
    sf.write(str(path), 0.3 * np.sin(2 * np.pi * freq * t), fs, subtype="PCM_16")
    return path


def make_librispeech(root, part="dev-clean", spk="84", chapter="121123", n=3, fs=16000):
    d = root / part / spk / chapter
    d.mkdir(parents=True)
    lines = []
    for i in range(n):
        utt = f"{spk}-{chapter}-{i:04d}"
        tone(d / f"{utt}.flac", fs=fs, freq=300 + 50 * i)
        lines.append(f"{utt} GO DO YOU HEAR NUMBER {i}")
    (d / f"{spk}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
    return d


def test_prepare_librispeech_layout(tmp_path):
    make_librispeech(tmp_path / "LibriSpeech")
    make_librispeech(tmp_path / "LibriSpeech", spk="1272", chapter="128104", n=2)
    n = prepare(tmp_path, "dev-clean", tmp_path / "data")  # the folder holding LibriSpeech/
    assert n == 5
    text = read_table(tmp_path / "data" / "text")
    assert text["84-121123-0002"] == "GO DO YOU HEAR NUMBER 2"
    u2s = read_table(tmp_path / "data" / "utt2spk")
    assert u2s["1272-128104-0001"] == "1272-128104"
    assert validate_data_dir(tmp_path / "data") == 5


def test_prepare_rejects_missing_audio_and_empty_transcript(tmp_path):
    d = make_librispeech(tmp_path)
    (d / "84-121123-0001.flac").unlink()
    with pytest.raises(DataDirError, match=r"84-121123-0001.*not found"):
        prepare(tmp_path, "dev-clean", tmp_path / "data")
    d2 = make_librispeech(tmp_path / "b")
    tr = d2 / "84-121123.trans.txt"
    tr.write_text(tr.read_text().replace("84-121123-0001 GO DO YOU HEAR NUMBER 1", "84-121123-0001"))
    with pytest.raises(DataDirError, match=r"trans.txt:2: utterance 84-121123-0001 has an empty transcript"):
        prepare(tmp_path / "b", "dev-clean", tmp_path / "data2")
    with pytest.raises(DataDirError, match="set not found"):
        prepare(tmp_path, "test-other", tmp_path / "data3")


def _data_dir(tmp_path, n=3, fs=16000):
    tmp_path.mkdir(parents=True, exist_ok=True)
    d = tmp_path / "data"
    wav = {f"u{i}": str(tone(tmp_path / f"u{i}.wav", fs=fs)) for i in range(n)}
    write_table(d / "wav.scp", wav)
    write_table(d / "text", {u: "HELLO WORLD" for u in wav})
    write_table(d / "utt2spk", {u: "s1" for u in wav})
    return d


def test_validate_names_the_utterance_and_file(tmp_path):
    d = _data_dir(tmp_path)
    assert validate_data_dir(d) == 3
    (tmp_path / "u1.wav").write_bytes(b"not audio at all")
    with pytest.raises(DataDirError, match=r"utterance u1: unreadable audio .*u1.wav"):
        validate_data_dir(d)
    (tmp_path / "u1.wav").unlink()
    with pytest.raises(DataDirError, match=r"utterance u1: audio file not found: .*u1.wav"):
        validate_data_dir(d)


def test_validate_rejects_wrong_rate_empty_text_unsorted_and_mismatch(tmp_path):
    d = _data_dir(tmp_path, fs=8000)
    with pytest.raises(DataDirError, match=r"utterance u0: .*sample rate 8000 Hz, expected 16000 Hz"):
        validate_data_dir(d)
    d = _data_dir(tmp_path / "b")
    (d / "text").write_text("u0 HELLO\nu1 \nu2 WORLD\n")
    with pytest.raises(DataDirError, match=r"text: utterance u1 has an empty text"):
        validate_data_dir(d)
    (d / "text").write_text("u1 A\nu0 B\nu2 C\n")
    with pytest.raises(DataDirError, match=r"text:2: ids not sorted"):
        validate_data_dir(d)
    (d / "text").write_text("u0 A\nu0 B\nu2 C\n")
    with pytest.raises(DataDirError, match=r"text:2: duplicate id 'u0'"):
        validate_data_dir(d)
    (d / "text").write_text("u0 A\nu2 C\n")
    with pytest.raises(DataDirError, match=r"text: no entry for 1 utterance.*u1"):
        validate_data_dir(d)


def test_format_resamples_dumps_and_resumes(tmp_path):
    d = _data_dir(tmp_path, fs=8000)
    out = tmp_path / "dump_dir"
    n = fmt.format_data_dir(d, out, tmp_path / "audio", fs=16000, audio_format="flac", nj=1)
    assert n == 3
    assert validate_data_dir(out) == 3  # now at 16 kHz
    nsamp = read_table(out / "utt2num_samples")
    assert abs(int(nsamp["u0"]) - 8000) <= 2  # 0.5 s at 16 kHz
    assert read_table(out / "spk2utt") == {"s1": "u0 u1 u2"}
    stamp = (tmp_path / "audio" / "u0.flac").stat().st_mtime_ns
    fmt.format_data_dir(d, out, tmp_path / "audio", fs=16000, nj=1)
    assert (tmp_path / "audio" / "u0.flac").stat().st_mtime_ns == stamp  # kept, not redone


def test_format_stops_on_bad_audio_unless_skipped(tmp_path):
    d = _data_dir(tmp_path)
    (tmp_path / "u2.wav").write_bytes(b"RIFF garbage")
    with pytest.raises(DataDirError, match=r"1 bad utterance.*utterance u2: unreadable audio"):
        fmt.format_data_dir(d, tmp_path / "out", tmp_path / "audio", nj=1)
    assert (tmp_path / "audio" / "u0.flac").is_file()  # what was computed is kept
    n = fmt.format_data_dir(d, tmp_path / "out", tmp_path / "audio", nj=1, skip_bad=True)
    assert n == 2
    assert "u2" in read_table(tmp_path / "out" / "bad_utts")
    assert set(read_table(tmp_path / "out" / "text")) == {"u0", "u1"}


def _distinct_data_dir(root, freqs):
    root.mkdir(parents=True, exist_ok=True)
    wav = {u: str(tone(root / f"{u}.wav", freq=f)) for u, f in freqs.items()}
    write_table(root / "data" / "wav.scp", wav)
    return root / "data"


@pytest.mark.parametrize("audio_format", ["flac", "wav"])
def test_format_records_the_digest_of_each_dumped_utterance(tmp_path, audio_format):
    import hashlib

    d = _distinct_data_dir(tmp_path, {"u0": 300.0, "u1": 400.0})
    (d / "wav.scp").write_text((d / "wav.scp").read_text() + f"u2 {tmp_path / 'u0.wav'}\n")  # u0's file again
    out, audio = tmp_path / "org", tmp_path / "audio"
    fmt.format_data_dir(d, out, audio, audio_format=audio_format, nj=1)
    digests = read_table(out / "utt2audio_sha1")
    for u, dig in digests.items():  # what a reader of the dump decodes, not what was asked to be written
        pcm, _ = sf.read(str(audio / f"{u}.{audio_format}"), dtype="int16")
        assert dig == hashlib.sha1(pcm.tobytes()).hexdigest()
    assert digests["u0"] == digests["u2"] != digests["u1"]
    fmt.format_data_dir(d, out, audio, audio_format=audio_format, nj=1)  # resumed: the files are kept
    assert read_table(out / "utt2audio_sha1") == digests
    (audio / f"u1.{audio_format}").write_bytes(b"cut short")  # newer than its source, unreadable
    fmt.format_data_dir(d, out, audio, audio_format=audio_format, nj=1)  # dumped again, not a traceback
    assert read_table(out / "utt2audio_sha1") == digests
    write_table(out / "text", {"u0": "A", "u1": "", "u2": "B"})
    fmt.filter_data_dir(out, tmp_path / "flt")
    assert read_table(tmp_path / "flt" / "utt2audio_sha1") == {u: digests[u] for u in ("u0", "u2")}


def test_overlap_warns_when_a_held_out_set_holds_a_training_utterances_samples(tmp_path, capsys):
    from adapters.data import overlap

    train = _distinct_data_dir(tmp_path / "tr", {"u0": 300.0, "u1": 400.0, "u2": 500.0})
    test = _distinct_data_dir(tmp_path / "te", {"t0": 600.0})
    (test / "wav.scp").write_text((test / "wav.scp").read_text() + f"t1 {tmp_path / 'tr' / 'u1.wav'}\n")
    clean = _distinct_data_dir(tmp_path / "cl", {"c0": 700.0})
    dirs = {}
    for name, d in (("train", train), ("test", test), ("clean", clean)):
        fmt.format_data_dir(d, tmp_path / "dump" / name, tmp_path / "audio" / name, nj=1)
        dirs[name] = str(tmp_path / "dump" / name)
    (tmp_path / "dump" / "old").mkdir()  # formatted before the digests: passed over, named
    capsys.readouterr()  # the format's progress bars
    overlap.main([dirs["train"], dirs["test"], dirs["clean"], str(tmp_path / "dump" / "old")])
    cap = capsys.readouterr()
    assert cap.err.strip() == ("warning: 1 of 2 utterances of test have the same samples as a training utterance "
                               "of train (t1 = u1): their scores measure memory, not generalisation")
    assert "clean: none of its 1 utterances has the samples of a training utterance" in cap.out
    assert "old: no readable utt2audio_sha1: not checked against train" in cap.out
    (tmp_path / "dump" / "old" / "utt2audio_sha1").write_text("t9\n")  # malformed: no digest
    overlap.main([dirs["train"], str(tmp_path / "dump" / "old")])
    assert "old: no readable utt2audio_sha1: not checked against train" in capsys.readouterr().out
    # each held-out utterance paired with the (first) training utterance holding its samples
    assert overlap.shared_audio({"u0": "a", "u1": "b"}, {"t0": "b", "t1": "c", "t2": "a"}) == [("t0", "u1"), ("t2", "u0")]


def test_filter_by_duration(tmp_path):
    d = _data_dir(tmp_path)
    tone(tmp_path / "u1.wav", sec=3.0)
    fmt.format_data_dir(d, tmp_path / "org", tmp_path / "audio", nj=1)
    n = fmt.filter_data_dir(tmp_path / "org", tmp_path / "flt", min_sec=0.1, max_sec=1.0)
    assert n == 2 and "u1" not in read_table(tmp_path / "flt" / "wav.scp")
    with pytest.raises(DataDirError, match="no utterance left"):
        fmt.filter_data_dir(tmp_path / "org", tmp_path / "none", min_sec=10.0)


def test_synthetic_librispeech_layout_and_cache(tmp_path):
    pytest.importorskip("shutil").which("espeak-ng") or pytest.skip("espeak-ng not installed")
    from adapters.synth import librispeech as synth

    sets = {"train-clean-100": (2, 1, 2, False), "test-other": (1, 1, 2, True)}
    root = synth.build(tmp_path / "c", sets, seed=3, nj=1)
    flacs = sorted(root.glob("*/*/*/*.flac"))
    assert len(flacs) == 6
    for f in flacs:
        spk, chapter, _ = f.stem.split("-")
        assert f.parent.name == chapter and f.parent.parent.name == spk
        assert sf.info(str(f)).samplerate == 16000
    n = prepare(root.parent, "train-clean-100", tmp_path / "data")
    assert n == 4 and validate_data_dir(tmp_path / "data") == 4
    stamp = json.loads((tmp_path / "c" / ".synth_complete.json").read_text())
    assert stamp["utterances"] == 6
    mtime = flacs[0].stat().st_mtime_ns
    synth.build(tmp_path / "c", sets, seed=3, nj=1)  # cached: nothing rewritten
    assert flacs[0].stat().st_mtime_ns == mtime
    # same seed, same texts; another seed, other texts
    a = synth.plan(tmp_path / "x", sets, seed=3)[1]
    b = synth.plan(tmp_path / "x", sets, seed=4)[1]
    assert list(a.values()) != list(b.values())
    assert len(synth.vocabulary()) >= 1000


def test_synthetic_librispeech_test_scales_grow_the_test_sets_only(tmp_path):
    from adapters.synth import librispeech as synth

    small, big = synth.scaled_sets(0.3), synth.scaled_sets(0.3, test_scale=1.0)
    assert small["train-clean-100"] == big["train-clean-100"] and small["dev-clean"] == big["dev-clean"]
    assert small["test-clean"][2] == 4 and big["test-clean"][2] == 12 and big["test-other"][2] == 12
    a = synth.plan(tmp_path, small)[1]
    b = synth.plan(tmp_path, big)[1]
    train = [k for k in a if "train-clean-100" in k.parts or "dev-clean" in k.parts]
    assert train and all(a[k] == b[k] for k in train)  # the same sentences, speakers and chapters
    test = [k for k in b if "test-clean" in k.parts]
    assert sum(t.count("\n") for k, t in b.items() if k in test) == 72
    # test-other alone back at 24: test-clean's 72 stay the same utterances
    other = synth.scaled_sets(0.3, test_scale=1.0, test_other_scale=0.3)
    assert other["test-clean"] == big["test-clean"] and other["test-other"][2] == 4
    c = synth.plan(tmp_path, other)[1]
    assert all(c[k] == b[k] for k in [*train, *test])
    assert sum(t.count("\n") for k, t in c.items() if "test-other" in k.parts) == 24
    with pytest.raises(SystemExit, match="positive"):
        synth.scaled_sets(0.3, test_scale=0)
    with pytest.raises(SystemExit, match="positive"):
        synth.scaled_sets(0.3, test_other_scale=-1)


def test_synthetic_librispeech_more_training_speakers_keep_the_held_out_sets(tmp_path):
    from adapters.synth import librispeech as synth

    sets = synth.scaled_sets(0.3, test_scale=1.0, test_other_scale=0.3)
    base_jobs, base = synth.plan(tmp_path, sets)
    jobs, more = synth.plan(tmp_path, sets, train_speakers=160)
    held = [k for k in base if "train-clean-100" not in k.parts]
    assert held and all(more[k] == base[k] for k in held) and len(held) == len(more) - 160

    def voices(js, train):
        return {a[2].name: a[1] for _, a in js if ("train-clean-100" in a[2].parts) == train}

    assert voices(jobs, False) == voices(base_jobs, False)  # the same voices read them
    train = voices(jobs, True)
    assert len(train) == 480  # 48 speakers x 2 chapters x 5 utterances, now 160 x 1 x 3
    speakers = {name.split("-")[0] for name in train}
    assert len(speakers) == 160 and len({v.name for v in train.values()}) == 160
    assert not {v.name for v in train.values()} & {v.name for v in voices(jobs, False).values()}
    assert not speakers & {k.parts[-3] for k in held}
    with pytest.raises(SystemExit, match="at least 1"):
        synth.plan(tmp_path, sets, train_speakers=0)



def test_synthetic_librispeech_more_chapters_grow_the_training_set_as_a_superset(tmp_path):
    from adapters.synth import librispeech as synth

    sets = synth.scaled_sets(0.3, test_scale=1.0, test_other_scale=0.3)
    base_jobs, base = synth.plan(tmp_path, sets)
    jobs, more = synth.plan(tmp_path, sets, train_chapters=4)
    # every old transcript, held-out or training, exactly as it was, read by the same voice
    assert all(more[k] == base[k] for k in base)
    old = {a[2]: a[1] for _, a in base_jobs}
    new = {a[2]: a[1] for _, a in jobs}
    assert all(new[p] == v for p, v in old.items())
    added = {p: v for p, v in new.items() if p not in old}
    assert len(added) == 480 and all("train-clean-100" in p.parts for p in added)
    # two new chapters a speaker, in the speaker's own voice, under chapter ids of their own
    by_speaker = {}
    for p, v in new.items():
        if "train-clean-100" in p.parts:
            by_speaker.setdefault(p.parts[-3], set()).add((p.parts[-2], v))
    assert len(by_speaker) == 48
    assert all(len({c for c, _ in cv}) == 4 and len({v for _, v in cv}) == 1 for cv in by_speaker.values())
    assert synth.plan(tmp_path, sets, train_chapters=2)[1] == base
    with pytest.raises(SystemExit, match="at least the training set's 2"):
        synth.plan(tmp_path, sets, train_chapters=1)
    with pytest.raises(SystemExit, match="not both"):
        synth.plan(tmp_path, sets, train_chapters=3, train_speakers=100)

def test_synthetic_librispeech_another_spec_leaves_no_old_speaker(tmp_path):
    pytest.importorskip("shutil").which("espeak-ng") or pytest.skip("espeak-ng not installed")
    from adapters.synth import librispeech as synth

    sets = {"train-clean-100": (2, 2, 1, False), "test-clean": (1, 1, 1, False)}
    root = synth.build(tmp_path / "c", sets, seed=3, nj=1)
    assert len(list(root.glob("train-clean-100/*"))) == 2
    root = synth.build(tmp_path / "c", sets, seed=3, nj=1, train_speakers=4)
    # the first build's two speakers' transcripts would join the training set if left behind
    assert len(list(root.glob("train-clean-100/*/*/*.trans.txt"))) == 4
    assert len(list(root.glob("train-clean-100/*/*/*.flac"))) == 4
    assert len(list(root.glob("test-clean/*/*/*.flac"))) == 1


def test_synthetic_lm_text_shares_the_words_not_the_sentences(tmp_path):
    import gzip

    from adapters.synth import librispeech as synth

    out = synth.build_lm_text(tmp_path, sentences=3000, seed=1)
    assert out.name == "librispeech-lm-norm.txt.gz"  # OpenSLR 11's name and format
    lines = gzip.decompress(out.read_bytes()).decode().splitlines()
    assert len(lines) == 3000 and all(line == line.upper() and line.strip() for line in lines)
    vocab = {w.upper() for w in synth.vocabulary()}
    assert {w for line in lines for w in line.split()} <= vocab
    # no transcript of the corpus (seed 0) is a sentence of the LM text
    transcripts = synth.plan(tmp_path / "x", seed=0)[1].values()
    said = {line.split(" ", 1)[1] for t in transcripts for line in t.splitlines()}
    assert len(said) > 1000 and not said & set(lines)
    # the same bytes again (the recipe fingerprints the file), and found rather than rewritten
    mtime, data = out.stat().st_mtime_ns, out.read_bytes()
    assert synth.build_lm_text(tmp_path, sentences=3000, seed=1).stat().st_mtime_ns == mtime
    out.unlink()
    assert synth.build_lm_text(tmp_path, sentences=3000, seed=1).read_bytes() == data
    assert synth.build_lm_text(tmp_path, sentences=3000, seed=2).read_bytes() != data


def test_every_espeak_variant_is_a_distinct_voice(tmp_path):
    """An unknown variant name falls back silently to the plain voice; none may."""
    import hashlib
    import shutil
    import subprocess

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    from adapters.synth.espeak import VARIANTS

    digests = {}
    for v in ("",) + VARIANTS:
        out = tmp_path / f"v{len(digests)}.wav"
        subprocess.run(["espeak-ng", "-v", f"en-us{'+' + v if v else ''}", "-w", str(out), "hello there"],
                       check=True, capture_output=True)
        digests.setdefault(hashlib.md5(out.read_bytes()).hexdigest(), []).append(v or "plain")
    same = [names for names in digests.values() if len(names) > 1]
    assert not same, f"variants that sound the same: {same}"


def test_speech_commands_protocol(tmp_path):
    """SUPERB's 12 classes from the v0.01 layout, lists checked line by line."""
    import numpy as np
    import soundfile as sf

    from adapters.data.kaldi import DataDirError
    from adapters.data.speech_commands import SILENCE, UNKNOWN, prepare

    for w in ("yes", "no", "marvin"):
        for h in ("aaaa1111", "bbbb2222", "cccc3333"):
            (tmp_path / w).mkdir(exist_ok=True)
            sf.write(str(tmp_path / w / f"{h}_nohash_0.wav"), np.zeros(16000), 16000, subtype="PCM_16")
    # the lists split by speaker (as the real ones do): bbbb2222 only in dev, cccc3333 only in test
    for rel in ("no/bbbb2222_nohash_0.wav", "yes/cccc3333_nohash_0.wav", "marvin/cccc3333_nohash_0.wav"):
        (tmp_path / rel).unlink()
    (tmp_path / "_background_noise_").mkdir()
    sf.write(str(tmp_path / "_background_noise_" / "white_noise.wav"), np.random.rand(48000) * 0.1, 16000)
    (tmp_path / "validation_list.txt").write_text("yes/bbbb2222_nohash_0.wav\nmarvin/bbbb2222_nohash_0.wav\n")
    (tmp_path / "testing_list.txt").write_text("no/cccc3333_nohash_0.wav\n")
    s = prepare(tmp_path, tmp_path / "out")
    labels = {c[2] for c in s["train"]}
    assert labels == {"yes", "no", UNKNOWN, SILENCE}
    assert [c[2] for c in s["dev"] if c[2] != SILENCE] == [UNKNOWN, "yes"]
    assert [c[1].endswith("no/cccc3333_nohash_0.wav") for c in s["test"]][0]
    (tmp_path / "testing_list.txt").write_text("no/cccc3333_nohash_0.wav\nno cccc3333.wav\n")
    with pytest.raises(DataDirError, match=r"testing_list.txt:2: expected '<word>/<file>.wav'"):
        prepare(tmp_path, tmp_path / "out")
    (tmp_path / "testing_list.txt").write_text("no/dddd_nohash_0.wav\n")
    with pytest.raises(DataDirError, match=r"testing_list.txt:1: listed clip not found"):
        prepare(tmp_path, tmp_path / "out")
