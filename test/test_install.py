"""`make install`'s guard: with too little free disk it stops before creating anything and says
how much is free where (the CI machine's disk varies; pip's 'No space left on device' came
half-way through an install)."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_install_refuses_when_the_disk_is_short(tmp_path):
    venv = tmp_path / "venv"
    r = subprocess.run(["make", "-C", str(ROOT), f"{venv}/.installed", f"VENV={venv}", "INSTALL_NEEDS_MB=999999999"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "MB free on /" in r.stderr and "the install needs 999999999 MB" in r.stderr
    assert not venv.exists()


@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_install_plan_uses_uv_with_bytecode():
    """What the install would run (make -n): uv with the .pyc files written (without them every
    process recompiled torch and ESPnet here: PYTHONDONTWRITEBYTECODE is set)."""
    r = subprocess.run(["make", "-C", str(ROOT), "-n", "-B", ".venv/.installed"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    uv = [line for line in r.stdout.splitlines() if "uv pip install" in line]
    assert len(uv) == 1 and "--compile-bytecode" in uv[0] and "UV_CACHE_DIR=.venv/.uv-cache" in uv[0]
