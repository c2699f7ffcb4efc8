import os
import warnings

# ESPnet's run-time type checks stay on in the tests (adapters/typechecks.py skips them in runs):
# every call we make into ESPnet is checked, here and in the entry points the tests start
os.environ.setdefault("ADAPTERS_TYPECHECK", "1")

import pytest
import torch

warnings.filterwarnings("ignore")
FAMILIES = ("wav2vec2", "hubert", "wavlm")


@pytest.fixture(scope="session")
def ckpt_dir(tmp_path_factory):
    from adapters.upstreams import make_upstream

    d = tmp_path_factory.mktemp("upstreams")
    for fam in FAMILIES:
        make_upstream(fam, "tiny", d / f"{fam}.pt", seed=0)
    return d


@pytest.fixture
def make_up(ckpt_dir):
    """make_up(family) -> a fresh tiny S3PRLUpstream in eval mode (no dropout)."""
    from s3prl.nn import S3PRLUpstream

    def make(family="hubert"):
        torch.manual_seed(0)
        up = S3PRLUpstream(f"{family}_local", path_or_url=str(ckpt_dir / f"{family}.pt"))
        return up.eval()

    return make


@pytest.fixture
def wavs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(3, 8000, generator=g), torch.tensor([8000, 6400, 4800])


def perturb(module, std=0.1, seed=0):
    """Move every parameter of ``module`` away from its (identity) initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * std)


def max_diff(xs, ys):
    return max((x - y).abs().max().item() for x, y in zip(xs, ys))


def copy_recipe(top, recipe):
    """A copy of egs/<recipe> (without its data and outputs) in a tree of its own under ``top``,
    with TEMPLATE and tools linked, so that a test run leaves the source tree clean."""
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    (top / "egs").mkdir(exist_ok=True)
    os.symlink(root / "egs" / "TEMPLATE", top / "egs" / "TEMPLATE")
    os.symlink(root / "tools", top / "tools")
    d = top / "egs" / recipe
    shutil.copytree(root / "egs" / recipe, d, symlinks=True,
                    ignore=shutil.ignore_patterns("data", "dump*", "exp*", "downloads*"))
    return d
