"""FastDropout is dropout: the rate, the 1/(1-p) scale, the gradient, the identity in eval, and
every plain nn.Dropout of a model our training tasks build replaced by it."""
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

from adapters.espnet.fast_dropout import FastDropout, use_fast_dropout

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_rate_and_scale(p):
    torch.manual_seed(0)
    x = torch.rand(1_000_000) + 1.0  # no zeros of its own
    y = FastDropout(p)(x)
    dropped = (y == 0).double().mean().item()
    sigma = math.sqrt(p * (1 - p) / x.numel())
    assert abs(dropped - p) < 5 * sigma, (dropped, p)
    kept = y != 0
    torch.testing.assert_close(y[kept], x[kept] / (1 - p), rtol=1e-6, atol=0)


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(0)
    x = (torch.rand(64, 33) + 1.0).requires_grad_()
    y = FastDropout(0.3)(x)
    g = torch.randn_like(y)
    y.backward(g)
    expected = g * (y.detach() != 0) / 0.7
    torch.testing.assert_close(x.grad, expected, rtol=1e-6, atol=1e-7)


def test_identity_in_eval_and_at_zero_all_dropped_at_one():
    x = torch.randn(8, 5)
    d = FastDropout(0.2).eval()
    assert d(x) is x
    assert FastDropout(0.0)(x) is x
    assert torch.count_nonzero(FastDropout(1.0)(x)) == 0


def test_same_seed_same_mask_and_inplace_agrees():
    x = torch.randn(16, 40)
    torch.manual_seed(3)
    a = FastDropout(0.25)(x)
    torch.manual_seed(3)
    b = FastDropout(0.25)(x)
    torch.manual_seed(3)
    c = FastDropout(0.25, inplace=True)(x.clone())
    assert torch.equal(a, b) and torch.equal(a, c)


def test_half_precision_uses_torch_dropout():
    # a float16 uniform draw is too coarse for the rate: those tensors take torch's own path
    x = torch.randn(32, 32).half()
    torch.manual_seed(5)
    ours = FastDropout(0.1)(x)
    torch.manual_seed(5)
    theirs = F.dropout(x, 0.1, True)
    assert torch.equal(ours, theirs)


def test_use_fast_dropout_swaps_plain_dropout_only():
    class Special(torch.nn.Dropout):
        pass

    m = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Dropout(0.2),
                            torch.nn.Sequential(torch.nn.Dropout(0.3, inplace=True), Special(0.4)))
    assert use_fast_dropout(m) == 2
    assert type(m[1]) is FastDropout and m[1].p == 0.2
    assert type(m[2][0]) is FastDropout and m[2][0].p == 0.3 and m[2][0].inplace
    assert type(m[2][1]) is Special
    assert use_fast_dropout(m) == 0  # FastDropout is not swapped again


def test_the_recipe_model_trains_with_fast_dropout(tmp_path):
    """The LibriSpeech recipe's CTC model, built by our ASR task as training builds it."""
    from adapters.espnet.tasks import AdapterASRTask

    cfg = yaml.safe_load((ROOT / "egs/librispeech/asr1/conf/train_ctc_frozen.yaml").read_text())
    cfg["frontend_conf"]["path_or_url"] = str(ROOT / "egs/upstream/hubert_pretrained_small.pt")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    (tmp_path / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", "a", "b", "<sos/eos>"]) + "\n")
    args = AdapterASRTask.get_parser().parse_args(
        ["--config", str(tmp_path / "c.yaml"), "--token_list", str(tmp_path / "tokens.txt"),
         "--token_type", "char", "--output_dir", str(tmp_path / "out")])
    model = AdapterASRTask.build_model(args)
    kinds = [type(m) for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert FastDropout in kinds and torch.nn.Dropout not in kinds
    # ESPnet builds the recipe's Adam from optim_conf: torch's fused kernel
    (optim,) = AdapterASRTask.build_optimizers(args, model)
    assert optim.defaults["fused"] is True
