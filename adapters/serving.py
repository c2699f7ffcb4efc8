"""Serving many tasks from one frozen upstream: adapter packs, several packs attached to
one upstream, and mixed-task batches routed by task.

An **adapter pack** (``python -m adapters.bin.pack exp/<run> --out X.zip``) is a zip of
what inference needs and nothing of the upstream (``PACK_FORMAT`` 1)::

    manifest.json    {"pack_format": 1, "kind": "asr" | "cls" | "spk", "method", "method_config",
                      "tasks": [the model's task names], "serve": {served task name: model task},
                      "upstream": {"name", "file", "backbone": {shape}, "sha256"},
                      "num_params": {"adapter", "downstream", "upstream"},
                      "source": {"exp", "model_file", "inference_config"}}
    adapter.pt       the adapter-only checkpoint (``adapters.checkpoint.save_adapter``: its own
                     manifest with the method, configuration, backbone shape and sha256)
    downstream.pt    the ESPnet model's tensors outside the upstream and the adapter
                     (layer weights, normalisation, encoder, CTC / decoder / classifier)
    config.yaml      the run's ESPnet config, the upstream's path left blank
    tokens.txt       the token list (ASR) or the class list (classification), one a line
                     (empty for speaker embeddings)
    inference.yaml   ASR: the decoding options of the recipe's stage 12
    bpe.model        ASR with BPE tokens: the SentencePiece model

``Server(upstream)`` holds one upstream; ``add_pack`` attaches a pack's method to it
(hooks installed only while that pack's utterances run) after checking the pack was made
on this upstream (the backbone's shape, then the hash of its frozen weights: an error
naming the difference).  Packs of one run that differ only in their per-task parts
(``pack --tasks``) merge into one group: one forward serves all their tasks.
``Server.infer`` routes each utterance to its task's group; within a group one batch
mixes tasks (HRA heads, per-task Houlsby, ... route per utterance inside the forward).
Decoding is ESPnet's ``Speech2Text`` (and the project's greedy CTC variant), the
classification head the model's own, as in stage 12.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import yaml

PACK_FORMAT = 1
MANIFEST = "manifest.json"
REQUIRED = (MANIFEST, "adapter.pt", "downstream.pt", "config.yaml", "tokens.txt")
DEFAULT_MODEL_FILE = {"asr": "valid.loss.ave.pth", "cls": "valid.acc.best.pth", "spk": "valid.eer.best.pth"}


class PackError(ValueError):
    """A pack that cannot be written, read or attached; the message names the problem."""


class UnknownTaskError(PackError):
    pass


# ----------------------------------------------------------------------------- helpers


def detect_kind(cfg: dict) -> str:
    """'asr', 'cls' or 'spk' (speaker embeddings) from an ESPnet training config."""
    if "projector" in cfg and "loss" in cfg and "spk_num" in cfg:
        return "spk"
    if "classification_type" in (cfg.get("model_conf") or {}):
        return "cls"
    if "ctc_conf" in cfg:
        return "asr"
    raise PackError("the run's config is not an ASR, classification or speaker-embedding config")


def espnet_task_for(kind: str):
    from adapters.results import espnet_task

    return espnet_task(kind)


def _frontend_conf(cfg: dict, where) -> dict:
    if cfg.get("frontend") != "s3prl_adapter":
        raise PackError(f"{where}: the frontend is {cfg.get('frontend')!r}, not s3prl_adapter: "
                        "there is no adapter on a shared upstream to pack")
    return dict(cfg.get("frontend_conf") or {})


def _serving_config(cfg: dict, upstream_path, tasks: Optional[Sequence[str]], strip: bool = True) -> dict:
    """The run's config pointed at ``upstream_path`` with ``tasks`` (None: the run's own);
    with ``strip``, a fusion's stage-1 file list dropped (their tensors are in the adapter)."""
    cfg = copy.deepcopy(cfg)
    fc = dict(cfg.get("frontend_conf") or {})
    fc["path_or_url"] = str(upstream_path) if upstream_path is not None else None
    fc.pop("train_tasks", None)
    fc.pop("adapter_init", None)  # the model file (or the pack) holds the adapter's weights
    if tasks is not None:
        fc["tasks"] = list(tasks)
    cfg["frontend_conf"] = fc
    if not strip:
        return cfg
    mc = dict(fc.get("method_conf") or {})
    if mc.get("adapter_paths"):  # a fusion's stage-1 files: their tensors are in the pack's adapter
        mc["adapter_paths"] = []
        fc["method_conf"] = mc
    cfg["frontend_conf"] = fc
    return cfg


def _build_espnet_model(kind: str, cfg: dict, model_file=None, device="cpu"):
    task = espnet_task_for(kind)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "config.yaml"
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        model, _ = task.build_model_from_file(p, model_file, device)
    return model.eval()


# ----------------------------------------------------------------------------- writing


def resolve_upstream_path(path_or_url, exp: Path) -> Path:
    """The run's upstream file: as written (relative to here), else relative to the recipe."""
    if not path_or_url:
        raise PackError(f"{exp}/config.yaml: frontend_conf has no path_or_url; pass --upstream")
    p = Path(path_or_url)
    for cand in ([p] if p.is_absolute() else [p, exp.parent.parent / p, exp / p]):
        if cand.is_file():
            return cand
    raise PackError(f"{exp}: the run's upstream {path_or_url} is not found (from here or from the recipe "
                    f"{exp.parent.parent}); pass --upstream")


def default_inference_config(exp: Path) -> Optional[Path]:
    """The decoding config stage 12 used: ``<exp>/decode_<name>`` <- ``<recipe>/conf/<name>.yaml``."""
    for d in sorted(exp.glob("decode_*")):
        c = exp.parent.parent / "conf" / f"{d.name[len('decode_'):]}.yaml"
        if c.is_file():
            return c
    return None


def write_pack(exp, out, model_file: Optional[str] = None, inference_config=None, upstream=None,
               tasks: Optional[Sequence[str]] = None, name: Optional[str] = None) -> dict:
    """Pack the trained run ``exp`` into ``out`` (a zip); returns the manifest."""
    from adapters.checkpoint import read_manifest, save_adapter

    exp = Path(exp)
    cfg_file = exp / "config.yaml"
    if not cfg_file.is_file():
        raise PackError(f"{cfg_file} not found: is {exp} a trained run's exp dir?")
    cfg = yaml.safe_load(cfg_file.read_text())
    kind = detect_kind(cfg)
    fc = _frontend_conf(cfg, cfg_file)
    model_path = exp / (model_file or DEFAULT_MODEL_FILE[kind])
    if not model_path.is_file():
        have = sorted(p.name for p in exp.glob("*.pth"))
        raise PackError(f"{model_path} not found (the run has {have or 'no .pth files'}); pass --model_file")
    up_path = Path(upstream) if upstream else resolve_upstream_path(fc.get("path_or_url"), exp)
    inf = None
    if kind == "asr":
        inf_path = Path(inference_config) if inference_config else default_inference_config(exp)
        if inf_path is None or not inf_path.is_file():
            raise PackError(f"{exp}: no decoding config found (stage 12's conf/decode_*.yaml); pass --inference_config")
        inf = yaml.safe_load(inf_path.read_text()) or {}
    # the run's own config (a fusion reads its stage-1 files, relative to the recipe, as in training)
    model = _build_espnet_model(kind, _serving_config(cfg, up_path, None, strip=False), model_path)
    adapted = model.frontend.adapted
    model_tasks = list(adapted.tasks.names)
    if adapted.method.upstream_trainable_names():
        raise PackError(f"{exp}: method {adapted.method.method_name!r} trains the upstream's own weights: "
                        "its runs cannot share a frozen upstream (pack an adapter method)")
    if tasks is not None:
        tasks = list(tasks)
        for t in tasks:
            if t not in adapted.tasks:
                raise UnknownTaskError(f"unknown task {t!r}; the run {exp} has the tasks {adapted.tasks.names}")
        if not adapted.method.task_modules and tasks != list(adapted.tasks.names):
            raise PackError(f"{exp}: method {adapted.method.method_name!r} has no per-task parts; pack all its tasks")
    packed = tasks if tasks is not None else list(adapted.tasks.names)
    if packed == ["default"]:
        serve = {name or exp.name: "default"}
    else:
        serve = {t: t for t in packed}
        if name:
            if adapted.method.routes_tasks:
                raise PackError(f"--name names a single-task or task-id-free run; this {adapted.method.method_name} "
                                f"run routes by task id (its tasks: {', '.join(packed)})")
            serve[name] = packed[0]  # a fusion needs no task id: any utterance, under one name
    downstream = {k: v.detach().cpu() for k, v in model.state_dict().items() if not k.startswith("frontend.adapted.")}
    token_list = list(cfg.get("token_list") or [])
    if not token_list and kind != "spk":
        raise PackError(f"{cfg_file}: no token_list")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        ad = save_adapter(adapted, Path(d) / "adapter.pt", tasks=tasks)
        am = read_manifest(ad)
        manifest = {
            "pack_format": PACK_FORMAT,
            "kind": kind,
            "method": am["method"],
            "method_config": am["config"],
            "tasks": am["tasks"],
            "serve": serve,
            "routes_tasks": bool(adapted.method.routes_tasks),
            "upstream": {"name": fc.get("upstream"), "file": up_path.name, "backbone": am["backbone"],
                         "sha256": am["backbone_sha256"]},
            "num_params": {"adapter": am["num_params"],
                           "downstream": int(sum(v.numel() for v in downstream.values())),
                           "upstream": adapted.num_backbone()},
            "source": {"exp": str(exp), "model_file": model_path.name,
                       "inference_config": str(inf_path) if kind == "asr" else None},
        }
        buf = io.BytesIO()
        torch.save(downstream, buf)
        stored_cfg = _serving_config(cfg, None, model_tasks)
        bpe = cfg.get("bpemodel")
        tmp = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, json.dumps(manifest, indent=1))
            z.write(ad, "adapter.pt")
            z.writestr("downstream.pt", buf.getvalue())
            if bpe:
                bp = Path(bpe) if Path(bpe).is_file() else exp.parent.parent / bpe
                if not bp.is_file():
                    raise PackError(f"{cfg_file}: bpemodel {bpe} not found")
                z.write(bp, "bpe.model")
                stored_cfg["bpemodel"] = "bpe.model"
            z.writestr("config.yaml", yaml.safe_dump(stored_cfg, sort_keys=False))
            z.writestr("tokens.txt", "".join(f"{t}\n" for t in token_list))
            if inf is not None:
                z.writestr("inference.yaml", yaml.safe_dump(inf, sort_keys=False))
        tmp.replace(out)
    return manifest


# ----------------------------------------------------------------------------- reading


@dataclass
class Pack:
    path: Path
    manifest: dict
    dir: Path  # where its files were extracted
    config: dict
    tokens: List[str]
    inference: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.manifest["kind"]

    @property
    def adapter_file(self) -> Path:
        return self.dir / "adapter.pt"

    def downstream(self) -> dict:
        return torch.load(self.dir / "downstream.pt", map_location="cpu", weights_only=True)


def read_pack(path, workdir) -> Pack:
    """Open and check a pack, extracting it under ``workdir``."""
    from adapters.adapter_file import CheckpointError, read_adapter_file

    path = Path(path)
    if not path.is_file():
        raise PackError(f"pack not found: {path}")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise PackError(f"{path}: not an adapter pack (not a zip file: {e})") from None
    with z:
        missing = [n for n in REQUIRED if n not in z.namelist()]
        if missing:
            raise PackError(f"{path}: not an adapter pack (lacks {missing}); write packs with adapters.bin.pack")
        man = json.loads(z.read(MANIFEST))
        if man.get("pack_format") != PACK_FORMAT:
            raise PackError(f"{path}: pack format {man.get('pack_format')!r} is not supported (expected {PACK_FORMAT})")
        lack = [k for k in ("kind", "method", "tasks", "serve", "upstream") if k not in man]
        if lack:
            raise PackError(f"{path}: manifest lacks {lack}")
        d = Path(tempfile.mkdtemp(prefix=path.stem + ".", dir=workdir))
        z.extractall(d)
    try:
        am, _ = read_adapter_file(d / "adapter.pt")
    except CheckpointError as e:
        raise PackError(f"{path}: {e}") from None
    if am["method"] != man["method"] or am["tasks"] != man["tasks"]:
        raise PackError(f"{path}: manifest.json and adapter.pt disagree on the method or tasks")
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    tokens = [t for t in (d / "tokens.txt").read_text().split("\n") if t]
    inf = yaml.safe_load((d / "inference.yaml").read_text()) if (d / "inference.yaml").is_file() else {}
    return Pack(path, man, d, cfg, tokens, inf or {})


# ----------------------------------------------------------------------------- serving


@dataclass
class Result:
    kind: str
    task: str
    text: Optional[str] = None  # ASR
    label: Optional[str] = None  # classification
    scores: Optional[List[float]] = None
    embedding: Optional[np.ndarray] = None  # speaker embedding (ASV)


class Group:
    """One ESPnet model (downstream and adapter method) whose method runs on the shared
    upstream: one pack, or several packs of one run merged (their tasks together)."""

    def __init__(self, pack: Pack, model, speech2text, signature):
        self.packs = [pack]
        self.kind = pack.kind
        self.model = model
        self.speech2text = speech2text
        self.signature = signature
        # classification: the class list as the recipe's stage 12 reads it (adapters.bin.cls_inference)
        self.classes = list(getattr(model, "token_list", pack.tokens))[: getattr(model, "vocab_size", len(pack.tokens))]

    @property
    def adapted(self):
        return self.model.frontend.adapted

    @property
    def method(self):
        return self.adapted.method

    @contextlib.contextmanager
    def active(self):
        """The method's hooks on the shared upstream, for this group's forward only."""
        m = self.method
        m.install()
        try:
            with self.adapted.inference():
                yield
        finally:
            m.uninstall()

    @torch.no_grad()
    def run(self, keys, speech, lens, tasks) -> Dict[str, Result]:
        model = self.model
        if self.method.routes_tasks:
            model.frontend.set_tasks(list(tasks))
        with self.active():
            if self.kind == "spk":  # as the recipe's stage 12 (adapters.bin.spk_embed)
                emb = model(speech=speech, speech_lengths=lens, extract_embd=True)
                return {k: Result("spk", t, embedding=e.cpu().numpy().astype(np.float32))
                        for k, t, e in zip(keys, tasks, emb)}
            enc, enc_lens = model.encode(speech, lens)
            if self.kind == "cls":
                probs = model.classification_function(model.decoder(enc, enc_lens))
        out = {}
        if self.kind == "cls":
            for k, t, p in zip(keys, tasks, probs):
                p = p.cpu().numpy()
                out[k] = Result("cls", t, label=self.classes[int(np.argmax(p))], scores=[float(v) for v in p])
            return out
        if isinstance(enc, tuple):
            enc = enc[0]
        for i, (k, t) in enumerate(zip(keys, tasks)):
            results = self.speech2text._decode_single_sample(enc[i, : int(enc_lens[i])])
            out[k] = Result("asr", t, text=results[0][0])
        return out


def greedy_ctc_speech2text(base=None):
    """ESPnet's ``Speech2Text`` (or ``base``, a subclass of it) decoding by best-path CTC:
    argmax per frame, repeats merged, blanks dropped (``asr_inference --ctc_greedy true``)."""
    from itertools import groupby

    from espnet.nets.beam_search import Hypothesis
    from espnet2.bin import asr_inference

    class GreedyCTCSpeech2Text(base or asr_inference.Speech2Text):
        def _decode_single_sample(self, enc):
            model = self.asr_model
            if model.ctc is None or model.use_transducer_decoder:
                raise ValueError("--ctc_greedy true needs a CTC model (no transducer decoder)")
            best = model.ctc.argmax(enc.unsqueeze(0))[0].tolist()
            tokens = [t for t, _ in groupby(best) if t != model.blank_id]
            # sos + tokens + eos: the layout ESPnet's post-processing strips
            yseq = torch.tensor([model.sos] + tokens + [model.eos])
            hyp = Hypothesis(yseq=yseq, score=0.0)
            token = self.converter.ids2tokens(tokens)
            text = self.tokenizer.tokens2text(token) if self.tokenizer is not None else None
            return [(text, token, tokens, hyp)]

    return GreedyCTCSpeech2Text


def _speech2text(pack: Pack, cfg_path: Path, device: str):
    """ESPnet's Speech2Text for the pack's decoding options (greedy CTC as the recipe's
    ``adapters.bin.asr_inference --ctc_greedy true``), built without weights."""
    import inspect

    espnet_task_for("asr")  # registers our classes in ESPnet's choices
    from espnet2.bin import asr_inference

    opts = dict(pack.inference)
    greedy = bool(opts.pop("ctc_greedy", False))
    cls = greedy_ctc_speech2text() if greedy else asr_inference.Speech2Text
    accepted = set(inspect.signature(asr_inference.Speech2Text.__init__).parameters)
    kw = {k: v for k, v in opts.items() if k in accepted and k not in ("asr_train_config", "asr_model_file", "device")}
    return cls(asr_train_config=str(cfg_path), asr_model_file=None, device=device, **kw)


class Server:
    """One frozen upstream serving the tasks of every attached pack."""

    def __init__(self, upstream, upstream_name: Optional[str] = None, device: str = "cpu"):
        self.upstream_path = Path(upstream)
        if not self.upstream_path.is_file():
            raise PackError(f"upstream not found: {upstream}")
        self.upstream_name = upstream_name
        self.device = device
        self.groups: List[Group] = []
        self.routes: Dict[str, Tuple[Group, str]] = {}
        self._up = None
        self._sha = None
        self._tmp = tempfile.TemporaryDirectory(prefix="adapter_packs.")

    # -- the shared upstream ----------------------------------------------
    def _upstream(self, name: str):
        from s3prl.nn import S3PRLUpstream

        if self._up is None:
            self.upstream_name = self.upstream_name or name
            up = S3PRLUpstream(self.upstream_name, path_or_url=str(self.upstream_path))
            for p in up.parameters():
                p.requires_grad_(False)
            self._up = up.to(self.device).eval()
        return self._up

    def _check_upstream(self, pack: Pack, up) -> None:
        from adapters.adapter_file import CheckpointError, check_backbone
        from adapters.backbones import Backbone
        from adapters.checkpoint import backbone_sha256
        from adapters.inject import AdaptedUpstream
        from adapters.methods.modes import Frozen
        from adapters.tasks import TaskSet

        want = pack.manifest["upstream"]
        bb = Backbone(up)
        try:
            check_backbone(pack.path, {"backbone": want["backbone"]}, bb.shape)
        except CheckpointError as e:
            raise PackError(f"{e} [pack made on {want.get('file')}; this upstream: {self.upstream_path}]") from None
        if want.get("name") and want["name"] != self.upstream_name:
            raise PackError(f"{pack.path}: made on a {want['name']!r} upstream ({want.get('file')}), "
                            f"this server's upstream is {self.upstream_name!r} ({self.upstream_path})")
        if self._sha is None:
            self._sha = backbone_sha256(AdaptedUpstream(up, Frozen(bb, None, TaskSet())))
        if want.get("sha256") and want["sha256"] != self._sha:
            raise PackError(
                f"{pack.path}: made on another upstream: the same shape, other weights (backbone sha256 "
                f"{want['sha256'][:16]}... of {want.get('file')} in the pack, {self._sha[:16]}... of "
                f"{self.upstream_path} here); serve it on the upstream it was trained with")

    # -- packs -------------------------------------------------------------
    def add_pack(self, path) -> List[str]:
        """Attach a pack; returns the task names it serves."""
        from adapters.checkpoint import BackboneWeightsWarning, load_state_into
        from adapters.inject import attach

        pack = read_pack(path, self._tmp.name)
        up = self._upstream(pack.manifest["upstream"].get("name") or "hubert_local")
        self._check_upstream(pack, up)
        clash = sorted(set(pack.manifest["serve"]) & set(self.routes))
        if clash:
            raise PackError(f"{pack.path}: task(s) {clash} are already served by "
                            f"{self.routes[clash[0]][0].packs[0].path}")
        sig = self._signature(pack)
        for g in self.groups:
            if g.signature == sig and g.method.task_modules and self._same_shared(g, pack):
                self._merge(g, pack)
                break
        else:
            g = self._new_group(pack, up, sig, attach, load_state_into, BackboneWeightsWarning)
            self.groups.append(g)
        for served, t in pack.manifest["serve"].items():
            self.routes[served] = (g, t)
        return list(pack.manifest["serve"])

    @staticmethod
    def _signature(pack: Pack) -> str:
        """What must agree for packs to share one model: all but the per-task parts."""
        import hashlib

        cfg = copy.deepcopy(pack.config)
        cfg.get("frontend_conf", {}).pop("tasks", None)
        h = hashlib.sha256()
        h.update(json.dumps([pack.kind, pack.manifest["method"], pack.manifest.get("method_config"), cfg,
                             pack.tokens, pack.inference], sort_keys=True, default=str).encode())
        h.update((pack.dir / "downstream.pt").read_bytes())
        return h.hexdigest()

    def _same_shared(self, g: Group, pack: Pack) -> bool:
        from adapters.adapter_file import read_adapter_file

        _, state = read_adapter_file(pack.adapter_file)
        every = f"method.{g.method.task_modules}."
        cur = g.method.state_dict()
        for k, v in state.items():
            if not k.startswith("method.") or k.startswith(every):
                continue
            if k[len("method."):] not in cur or not torch.equal(cur[k[len("method."):]].cpu(), v):
                return False
        return True

    def _merge(self, g: Group, pack: Pack) -> None:
        from adapters.adapter_file import read_adapter_file

        _, state = read_adapter_file(pack.adapter_file)
        m = g.method
        prefix = f"method.{m.task_modules}."
        for t in pack.manifest["tasks"]:
            if t in m.tasks:
                raise PackError(f"{pack.path}: task {t!r} is already in {g.packs[0].path}")
            m.add_task(t)
        own = {k[len("method."):]: v for k, v in state.items() if k.startswith(prefix)}
        with torch.no_grad():
            cur = m.state_dict()
            for k, v in own.items():
                cur[k].copy_(v)
        g.packs.append(pack)

    def _new_group(self, pack, up, sig, attach, load_state_into, weights_warning) -> Group:
        from adapters.inject import AdaptedUpstream

        cfg = _serving_config(pack.config, self.upstream_path, pack.manifest["tasks"])
        if cfg.get("bpemodel"):
            cfg["bpemodel"] = str(pack.dir / cfg["bpemodel"])
        cfg_path = pack.dir / "serving_config.yaml"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        s2t = None
        if pack.kind == "asr":
            s2t = _speech2text(pack, cfg_path, self.device)
            model = s2t.asr_model
        else:
            model, _ = espnet_task_for(pack.kind).build_model_from_file(cfg_path, None, self.device)
        fe = model.frontend
        # the frontend loaded its own copy of the upstream: its method goes onto the shared one
        fe.adapted.method.uninstall()
        conf = dict(pack.manifest["method_config"])
        if conf.get("adapter_paths"):  # training-only (the method's training_only_options): in adapter.pt
            conf["adapter_paths"] = []
        adapted = attach(up, pack.manifest["method"], tasks=pack.manifest["tasks"], **conf)
        adapted.method.uninstall()  # installed per forward (Group.active)
        adapted.method.to(self.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", weights_warning)  # checked above, as an error
            load_state_into(adapted, pack.adapter_file)
        fe.adapted = adapted
        fe.pretrained_params = None  # the copy of the upstream kept for ESPnet's --init
        state = pack.downstream()
        res = model.load_state_dict(state, strict=False)
        stray = [k for k in res.missing_keys if not k.startswith("frontend.adapted.")]
        if res.unexpected_keys or stray:
            raise PackError(f"{pack.path}: downstream.pt does not fit the model its config builds "
                            f"(unexpected {res.unexpected_keys[:5]}, missing {stray[:5]})")
        model.to(self.device).eval()
        return Group(pack, model, s2t, sig)

    @property
    def tasks(self) -> List[str]:
        return sorted(self.routes)

    def route(self, task: str) -> Tuple[Group, str]:
        try:
            return self.routes[task]
        except KeyError:
            raise UnknownTaskError(f"unknown task {task!r}; the packs serve the tasks {self.tasks}") from None

    # -- inference -----------------------------------------------------------
    def infer(self, utts: Sequence[Tuple[str, np.ndarray]], tasks: Sequence[str],
              max_samples: int = 60 * 16000) -> Tuple[Dict[str, Result], Dict[str, str]]:
        """Results for ``utts`` ((key, 16 kHz float waveform)), each of ``tasks``' task;
        returns (results, errors by key).  Utterances of one group share batches whatever
        their tasks; a batch that fails is retried one utterance at a time."""
        from adapters.data.batches import length_batches

        routed = {}
        for (k, _), t in zip(utts, tasks):
            routed[k] = self.route(t)
        wav = dict(utts)
        task_of = dict(zip((k for k, _ in utts), tasks))
        results, errors = {}, {}
        for g in self.groups:
            mine = {k: len(wav[k]) for k in wav if routed[k][0] is g}
            for keys in length_batches(mine, max_samples):
                self._run_batch(g, keys, wav, routed, task_of, results, errors)
        return results, errors

    def _run_batch(self, g, keys, wav, routed, task_of, results, errors):
        xs = [torch.as_tensor(np.asarray(wav[k], dtype=np.float32)) for k in keys]
        speech = torch.nn.utils.rnn.pad_sequence(xs, batch_first=True).to(self.device)
        lens = torch.tensor([len(x) for x in xs], device=self.device)
        try:
            out = g.run(keys, speech, lens, [routed[k][1] for k in keys])
        except Exception as e:
            if len(keys) > 1:
                for k in keys:
                    self._run_batch(g, [k], wav, routed, task_of, results, errors)
                return
            errors[keys[0]] = f"inference failed: {e.__class__.__name__}: {e}"
            return
        for k, r in out.items():
            r.task = task_of[k]
            results[k] = r

    def close(self):
        self._tmp.cleanup()
