"""Mixed precision: every run of the catalogue trains under bf16 autocast (CPU here; the same
autocast ESPnet's ``--use_amp`` turns on, with fp16, on a GPU).

The tolerance, 1 % of the float32 loss: under autocast the matmuls (the attention, the FFN,
every adapter's projections) round their inputs and outputs to bf16, 8 significant bits, a
relative error of up to 2^-8 = 0.4 % each, while LayerNorm, the softmaxes and the loss stay
in float32, and the loss (a mean over frames) averages the roundings out.  Measured on the
tiny upstreams the loss moves by 0.0005 % to 0.11 % (ELP's paper configuration and the
fusions that update their adapters the most): 1 % is ten times the worst, while a dtype
clash fails outright and an overflow or a NaN fails the finiteness checks."""
import pytest

from adapters import catalogue
from conftest import FAMILIES
from method_checks import check_bf16_autocast

RUNS = catalogue.names()


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("run", RUNS)
def test_bf16_autocast_loss_is_finite_and_close_to_float32(make_up, wavs, family, run):
    check_bf16_autocast(make_up, wavs, run, family)
