"""Serving: adapter packs, one inference command over several packs on one upstream,
mixed-task batches, its errors, and the serving benchmark.

The runs are built the cheapest way that still goes through ESPnet as the recipes do:
ESPnet's own parser makes the run's config.yaml (as training writes it), the model is
built from it with a tiny upstream and its adapter moved off its identity start, and
stage 12's command (``adapters.bin.asr_inference`` with the recipe's options,
``adapters.bin.cls_inference.run``) decodes the test utterances; ``infer`` on the pack
must give the same output."""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from conftest import perturb

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "d", "<space>", "<sos/eos>"]
CLASSES = ["yes", "no", "up", "<unk>"]


MODEL_FILE = {"asr": "valid.loss.ave.pth", "cls": "valid.acc.best.pth", "spk": "valid.eer.best.pth"}


def _make_run(root: Path, kind: str, cfg: dict, seed: int) -> Path:
    from adapters.espnet.tasks import AdapterASRTask, AdapterCLSTask, AdapterSpeakerTask

    task = {"asr": AdapterASRTask, "cls": AdapterCLSTask, "spk": AdapterSpeakerTask}[kind]
    exp = root / "exp" / {"asr": "asr_ctc_hra", "cls": "cls_lora", "spk": "spk_houlsby"}[kind]
    exp.mkdir(parents=True, exist_ok=True)
    (root / f"train_{kind}.yaml").write_text(yaml.safe_dump(cfg))
    args = task.get_parser().parse_args(["--config", str(root / f"train_{kind}.yaml"), "--output_dir", str(exp)])
    torch.manual_seed(seed)
    model = task.build_model(args)
    perturb(model.frontend.adapted.method, std=0.5, seed=seed)  # away from the identity start
    with open(exp / "config.yaml", "w") as f:  # as ESPnet's training writes it
        yaml.safe_dump(vars(args), f, sort_keys=False)
    torch.save(model.state_dict(), exp / MODEL_FILE[kind])
    return exp


def _write_audio(d: Path, n: int, prefix: str, seed: int):
    g = np.random.default_rng(seed)
    d.mkdir(parents=True, exist_ok=True)
    scp = {}
    for i in range(n):
        m = int(16000 * (0.4 + 0.1 * i))
        t = np.arange(m) / 16000
        x = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t) + 0.05 * g.standard_normal(m)
        p = d / f"{prefix}{i}.flac"
        sf.write(p, x.astype("float32"), 16000)
        scp[f"{prefix}{i}"] = str(p)
    (d / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in scp.items()))
    return scp


def _table(p):
    out = {}
    for line in Path(p).read_text().splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, ckpt_dir):
    """Two tiny runs (multi-task HRA CTC ASR on tasks a, b; single-task LoRA keyword
    classification), their stage-12 outputs, and their packs."""
    from espnet2.bin import asr_inference as espnet_asr_inference

    from adapters.bin import asr_inference, cls_inference
    from adapters.serving import write_pack

    root = tmp_path_factory.mktemp("serving")
    up = str(ckpt_dir / "hubert.pt")
    asr = _make_run(root, "asr", {
        "frontend": "s3prl_adapter",
        "frontend_conf": {"upstream": "hubert_local", "path_or_url": up, "method": "hra", "tasks": ["a", "b"],
                          "method_conf": {"controller_dim": 16, "head": "linear"}},
        "normalize": "utterance_mvn", "encoder": "transformer",
        "encoder_conf": {"output_size": 32, "attention_heads": 2, "linear_units": 64, "num_blocks": 1,
                         "input_layer": "linear"},
        "model": "adapter_espnet", "model_conf": {"ctc_weight": 1.0}, "token_type": "char", "token_list": TOKENS,
    }, seed=1)
    cls = _make_run(root, "cls", {
        "frontend": "s3prl_adapter",
        "frontend_conf": {"upstream": "hubert_local", "path_or_url": up, "method": "lora",
                          "method_conf": {"rank": 2}},
        "normalize": None, "encoder": "linear", "encoder_conf": {"output_size": 16, "input_layer": "linear"},
        "decoder": "linear", "decoder_conf": {"pooling": "mean"},
        "model_conf": {"classification_type": "multi-class"}, "token_list": CLASSES,
    }, seed=2)
    data = root / "data"
    scp = _write_audio(data / "asr", 6, "u", seed=0)
    u2t = {k: "ab"[i % 2] for i, k in enumerate(scp)}
    (data / "asr" / "utt2task").write_text("".join(f"{k} {t}\n" for k, t in u2t.items()))
    (data / "asr" / "utt2task_id").write_text("".join(f"{k} {'ab'.index(t)}\n" for k, t in u2t.items()))
    (data / "tasks").write_text("a\nb\n")
    kscp = _write_audio(data / "ks", 4, "k", seed=1)
    (root / "decode_ctc.yaml").write_text("ctc_greedy: true\nbatch_size: 1\nnbest: 1\n")

    # stage 12, as asr.sh runs it for multi-task data (--task_list), and as cls.sh runs it
    saved = espnet_asr_inference.Speech2Text
    try:
        asr_inference.main([
            "--config", str(root / "decode_ctc.yaml"), "--ngpu", "0",
            "--data_path_and_name_and_type", f"{data / 'asr' / 'wav.scp'},speech,sound",
            "--key_file", str(data / "asr" / "wav.scp"),
            "--asr_train_config", str(asr / "config.yaml"), "--asr_model_file", str(asr / "valid.loss.ave.pth"),
            "--output_dir", str(asr / "decode" / "out"),
            "--data_path_and_name_and_type", f"{data / 'asr' / 'utt2task_id'},task,text_int",
            "--allow_variable_data_keys", "true", "--task_list", str(data / "tasks"),
        ])
    finally:
        espnet_asr_inference.Speech2Text = saved  # main() swaps in its subclasses
    cls_inference.run(cls, "valid.acc.best.pth", [("test", data / "ks")], 120 * 16000, use_cache=False)

    packs = root / "packs"
    write_pack(asr, packs / "hra.zip", inference_config=root / "decode_ctc.yaml")
    write_pack(cls, packs / "ks.zip", name="ks")
    return dict(root=root, up=up, asr=asr, cls=cls, data=data, scp=scp, kscp=kscp, u2t=u2t, packs=packs,
                stage12_text=_table(asr / "decode" / "out" / "1best_recog" / "text"),
                stage12_pred=_table(cls / "decode" / "test" / "prediction"),
                stage12_scores=_table(cls / "decode" / "test" / "scores"))


@pytest.mark.slow  # a third run and its stage 12 (about 10 s): keeps the default file under a minute
def test_a_task_id_free_fusion_pack_reproduces_stage_12_without_its_stage_1_files(runs, tmp_path):
    """A-AF: the stage-1 single-task adapters' tensors travel in the pack (the run's config
    names their files, which serving never reads); every utterance, no task id."""
    import adapters
    from espnet2.bin import asr_inference as espnet_asr_inference
    from s3prl.nn import S3PRLUpstream

    from adapters.bin import asr_inference

    stage1 = tmp_path / "stage1"
    paths = []
    for i, t in enumerate("ab"):
        ad = adapters.attach(S3PRLUpstream("hubert_local", path_or_url=runs["up"]), "fusion", tasks=[t],
                             mode="single", bottleneck=8)
        perturb(ad.method, std=0.3, seed=i)
        paths.append(str(adapters.save_adapter(ad, stage1 / f"{t}.pt")))
    cfg = yaml.safe_load((runs["root"] / "train_asr.yaml").read_text())
    cfg["frontend_conf"] = {"upstream": "hubert_local", "path_or_url": runs["up"], "method": "fusion",
                            "method_conf": {"mode": "attention", "bottleneck": 8, "adapter_paths": paths}}
    root = tmp_path / "run"
    exp = _make_run(root, "asr", cfg, seed=3)
    saved = espnet_asr_inference.Speech2Text
    try:
        asr_inference.main([
            "--config", str(runs["root"] / "decode_ctc.yaml"), "--ngpu", "0",
            "--data_path_and_name_and_type", f"{runs['data'] / 'asr' / 'wav.scp'},speech,sound",
            "--key_file", str(runs["data"] / "asr" / "wav.scp"), "--asr_train_config", str(exp / "config.yaml"),
            "--asr_model_file", str(exp / "valid.loss.ave.pth"), "--output_dir", str(exp / "decode" / "out")])
    finally:
        espnet_asr_inference.Speech2Text = saved
    from adapters.serving import write_pack

    man = write_pack(exp, tmp_path / "aaf.zip", inference_config=runs["root"] / "decode_ctc.yaml", name="aaf")
    assert man["serve"] == {"a": "a", "b": "b", "aaf": "a"} and not man["routes_tasks"]
    shutil.rmtree(stage1)
    rc = infer(runs, "--packs", str(tmp_path / "aaf.zip"), "--task", "aaf", str(runs["data"] / "asr" / "wav.scp"),
               out=tmp_path / "out")
    assert rc in (0, None)
    assert _table(tmp_path / "out" / "text") == _table(exp / "decode" / "out" / "1best_recog" / "text")


def test_a_speaker_embedding_pack_reproduces_stage_12_embeddings(runs, tmp_path, capsys):
    from adapters.bin import spk_embed
    from adapters.serving import write_pack

    exp = _make_run(tmp_path, "spk", {
        "frontend": "s3prl_adapter",
        "frontend_conf": {"upstream": "hubert_local", "path_or_url": runs["up"], "method": "houlsby",
                          "method_conf": {"bottleneck": 8}},
        "normalize": None, "encoder": "identity", "pooling": "stats", "projector": "xvector",
        "projector_conf": {"output_size": 16}, "loss": "aamsoftmax", "loss_conf": {"margin": 0.2, "scale": 30},
        "spk_num": 3,
    }, seed=4)
    spk_embed.run(exp, "valid.eer.best.pth", [("test", runs["data"] / "ks")], 120 * 16000)
    man = write_pack(exp, tmp_path / "asv.zip", name="asv")
    assert man["kind"] == "spk" and man["serve"] == {"asv": "default"}
    rc = infer(runs, "--packs", str(tmp_path / "asv.zip"), "--task", "asv", str(runs["data"] / "ks" / "wav.scp"),
               out=tmp_path / "out")
    assert rc in (0, None) and "k0 embedding 16 " in capsys.readouterr().out
    want = np.load(exp / "embed" / "test" / "embeddings.npz")
    got = np.load(tmp_path / "out" / "embeddings.npz")
    assert set(got.files) == set(want.files) == set(runs["kscp"])
    for k in want.files:
        np.testing.assert_allclose(got[k], want[k], atol=1e-5)


def infer(runs, *args, out=None):
    from adapters.bin import infer as cli

    argv = ["--upstream", runs["up"], *args]
    if out is not None:
        argv += ["--output_dir", str(out)]
    try:
        cli.main(argv)
        return 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
            return 2
        return e.code


def test_pack_holds_the_adapter_and_downstream_not_the_upstream(runs):
    import zipfile

    z = zipfile.ZipFile(runs["packs"] / "hra.zip")
    assert {"manifest.json", "adapter.pt", "downstream.pt", "config.yaml", "tokens.txt",
            "inference.yaml"} <= set(z.namelist())
    man = json.loads(z.read("manifest.json"))
    assert man["kind"] == "asr" and man["method"] == "hra" and man["tasks"] == ["a", "b"]
    assert man["serve"] == {"a": "a", "b": "b"} and len(man["upstream"]["sha256"]) == 64
    assert man["upstream"]["backbone"]["family"] == "hubert"
    import io

    down = torch.load(io.BytesIO(z.read("downstream.pt")), weights_only=True)
    assert not [k for k in down if k.startswith("frontend.adapted.")]
    assert any(k.startswith("ctc.") for k in down) and any(k.startswith("frontend.featurizer") for k in down)
    assert yaml.safe_load(z.read("config.yaml"))["frontend_conf"]["path_or_url"] is None
    assert z.read("tokens.txt").decode().split() == TOKENS
    # a fraction of the run's model file, which holds the upstream too
    assert (runs["packs"] / "hra.zip").stat().st_size < 0.2 * (runs["asr"] / "valid.loss.ave.pth").stat().st_size
    ks = json.loads(zipfile.ZipFile(runs["packs"] / "ks.zip").read("manifest.json"))
    assert ks["kind"] == "cls" and ks["serve"] == {"ks": "default"} and ks["method"] == "lora"


def test_infer_reproduces_stage_12_with_mixed_task_batches(runs, tmp_path, capsys):
    """Both packs on one upstream; the ASR utterances of tasks a and b share a batch."""
    u2t = dict(runs["u2t"], **{k: "ks" for k in runs["kscp"]})
    (tmp_path / "utt2task").write_text("".join(f"{k} {t}\n" for k, t in u2t.items()))
    rc = infer(runs, "--packs", str(runs["packs"] / "hra.zip"), str(runs["packs"] / "ks.zip"),
               "--utt2task", str(tmp_path / "utt2task"),
               str(runs["data"] / "asr" / "wav.scp"), str(runs["data"] / "ks" / "wav.scp"), out=tmp_path / "out")
    assert rc in (0, None)
    text = _table(tmp_path / "out" / "text")
    assert text == runs["stage12_text"] and any(v.strip() for v in text.values())
    assert _table(tmp_path / "out" / "prediction") == runs["stage12_pred"]
    got = _table(tmp_path / "out" / "scores")
    assert set(got) == set(runs["stage12_scores"])
    for k, v in got.items():
        np.testing.assert_allclose(np.array(v.split(), float), np.array(runs["stage12_scores"][k].split(), float),
                                   atol=2e-5)
    printed = capsys.readouterr().out.splitlines()
    assert f"u1 {runs['stage12_text']['u1']}" in printed
    assert any(line.startswith(f"k0 {runs['stage12_pred']['k0']} ") for line in printed)
    # one utterance a batch gives the same
    rc = infer(runs, "--packs", str(runs["packs"] / "hra.zip"), "--utt2task", str(runs["data"] / "asr" / "utt2task"),
               "--batch_sec", "0.01", str(runs["data"] / "asr" / "wav.scp"), out=tmp_path / "one")
    assert _table(tmp_path / "one" / "text") == runs["stage12_text"]


def test_each_utterance_gets_its_own_tasks_adapter(runs, tmp_path):
    from adapters.serving import Server

    s = Server(runs["up"])
    s.add_pack(runs["packs"] / "hra.zip")
    wavs = [(k, sf.read(p, dtype="float32")[0]) for k, p in runs["scp"].items()]
    mixed, _ = s.infer(wavs, [runs["u2t"][k] for k, _ in wavs])
    all_a, _ = s.infer(wavs, ["a"] * len(wavs))
    assert {k: r.text for k, r in mixed.items()} == runs["stage12_text"]
    for k, _ in wavs:
        assert (all_a[k].text == mixed[k].text) or runs["u2t"][k] == "b"
    assert any(all_a[k].text != mixed[k].text for k, _ in wavs if runs["u2t"][k] == "b")
    s.close()


def test_per_task_packs_of_one_run_merge_into_one_model(runs, tmp_path):
    from adapters.serving import Server, write_pack

    for t in "ab":
        man = write_pack(runs["asr"], tmp_path / f"{t}.zip", inference_config=runs["root"] / "decode_ctc.yaml",
                         tasks=[t])
        assert man["tasks"] == [t]
    s = Server(runs["up"])
    s.add_pack(tmp_path / "a.zip")
    s.add_pack(tmp_path / "b.zip")
    assert len(s.groups) == 1 and s.tasks == ["a", "b"]  # one controller, two heads: one forward
    wavs = [(k, sf.read(p, dtype="float32")[0]) for k, p in runs["scp"].items()]
    res, err = s.infer(wavs, [runs["u2t"][k] for k, _ in wavs])
    assert not err and {k: r.text for k, r in res.items()} == runs["stage12_text"]
    s.close()


def test_unknown_task_is_an_error_naming_the_known_ones(runs, capsys):
    rc = infer(runs, "--packs", str(runs["packs"] / "hra.zip"), "--task", "zz", str(runs["data"] / "asr" / "wav.scp"))
    err = capsys.readouterr().err
    assert rc == 2 and "unknown task 'zz'" in err and "['a', 'b']" in err


def test_unreadable_audio_is_reported_and_the_rest_still_written(runs, tmp_path, capsys):
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"not audio at all")
    scp = dict(runs["scp"], bad=str(bad), gone=str(tmp_path / "missing.wav"))
    (tmp_path / "wav.scp").write_text("".join(f"{k} {v}\n" for k, v in scp.items()))
    rc = infer(runs, "--packs", str(runs["packs"] / "hra.zip"), "--task", "a", str(tmp_path / "wav.scp"),
               out=tmp_path / "out")
    err = capsys.readouterr().err
    assert rc == 1 and "unreadable audio" in err and "not found" in err and "2 of 8 utterances failed" in err
    assert set(_table(tmp_path / "out" / "text")) == set(runs["scp"])
    assert set(_table(tmp_path / "out" / "errors")) == {"bad", "gone"}


def test_pack_on_another_upstream_is_an_error_naming_the_difference(runs, ckpt_dir, tmp_path):
    from adapters.serving import PackError, Server
    from adapters.upstreams import make_upstream

    other = make_upstream("hubert", "tiny", tmp_path / "other.pt", seed=1)  # same shape, other weights
    with pytest.raises(PackError, match=r"same shape, other weights \(backbone sha256 [0-9a-f]{16}"):
        Server(other).add_pack(runs["packs"] / "hra.zip")
    # another family (same sizes): the differing field named
    with pytest.raises(PackError, match="family: checkpoint has 'hubert', upstream has 'wav2vec2'"):
        Server(ckpt_dir / "wav2vec2.pt", "wav2vec2_local").add_pack(runs["packs"] / "ks.zip")
    (tmp_path / "junk.zip").write_bytes(b"junk")
    with pytest.raises(PackError, match="not an adapter pack"):
        Server(runs["up"]).add_pack(tmp_path / "junk.zip")
    s = Server(runs["up"])
    s.add_pack(runs["packs"] / "hra.zip")
    with pytest.raises(PackError, match=r"task\(s\) \['a', 'b'\] are already served"):
        s.add_pack(runs["packs"] / "hra.zip")


def test_bench_serving_tiny_writes_the_issue_json(tmp_path, capsys):
    from adapters.bin import bench_serving

    out = tmp_path / "bench.json"
    bench_serving.main(["--size", "tiny", "--tasks", "1", "4", "--batch", "4", "--batches", "2", "--seconds", "0.5",
                        "--threads", "1", "--json", str(out)])
    res = json.loads(out.read_text())
    assert set(res["methods"]) == {"hra", "houlsby", "lora", "merged"}
    for m, by_n in res["methods"].items():
        assert set(by_n) == {"1", "4"}, m
        for r in by_n.values():
            assert r["utt_per_s"] > 0 and r["mem_mb"] > 0
    # memory grows by the tasks' own parameters (HRA heads)
    hra = res["methods"]["hra"]
    assert hra["4"]["adapter_params"] > hra["1"]["adapter_params"]
    assert "utt/s" in capsys.readouterr().out
