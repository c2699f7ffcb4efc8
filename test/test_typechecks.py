"""ESPnet's run-time type checks are skipped in our entry points and kept where asked for
(``ADAPTERS_TYPECHECK=1``, which the tests set): adapters/typechecks.py."""
import os
import subprocess
import sys

CALL = """
import adapters.bin
from espnet2.text.char_tokenizer import CharTokenizer
try:
    CharTokenizer(space_symbol=5)   # typechecked: space_symbol is a str
    print("unchecked")
except Exception as e:
    print(type(e).__name__)
"""


def run(typecheck):
    env = {k: v for k, v in os.environ.items() if k != "ADAPTERS_TYPECHECK"}
    if typecheck is not None:
        env["ADAPTERS_TYPECHECK"] = typecheck
    r = subprocess.run([sys.executable, "-c", CALL], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout.split()[-1]


def test_an_entry_point_skips_espnet_typechecks_unless_asked():
    assert run(None) == "unchecked"
    assert run("0") == "unchecked"
    assert run("1") == "TypeCheckError"


def test_the_pass_through_keeps_both_decorator_forms():
    from adapters.typechecks import _no_check

    def f(x: int) -> int:
        return x

    assert _no_check(f) is f and _no_check()(f) is f and _no_check(forward_ref_policy=None)(f) is f
