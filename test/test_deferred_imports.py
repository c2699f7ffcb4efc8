"""The modules ESPnet imports at start-up that our runs never use are imported on first use,
and then behave as if imported at start-up (adapters/deferred_imports.py)."""
import subprocess
import sys
import textwrap

from adapters.deferred_imports import DeferredModule, defer, load


def run_python(code, tmp_path=None):
    env_path = [str(tmp_path)] if tmp_path else []
    prelude = f"import sys; sys.path[:0] = {env_path!r}\n"
    r = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    return [w for line in r.stdout.splitlines() if not line.startswith("Failed to import Flash")
            for w in line.split()]


def test_a_deferred_package_and_its_submodule_load_on_first_use(tmp_path):
    pkg = tmp_path / "slowpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import sys\nsys.slowpkg_loads = getattr(sys, 'slowpkg_loads', 0) + 1\n"
                                     "from . import sub\nVALUE = 'real'\n")
    (pkg / "sub.py").write_text("def answer():\n    return 42\n")
    out = run_python("""
        from adapters.deferred_imports import defer
        defer(("slowpkg", "slowpkg.sub", "not_installed_anywhere"))
        import inspect, slowpkg.sub                    # what ESPnet's modules do at their top
        inspect.getmodule(inspect)                     # walks sys.modules, reading __file__
        print(getattr(sys, "slowpkg_loads", 0), "not_installed_anywhere" in sys.modules)
        print(slowpkg.sub.answer(), sys.slowpkg_loads, slowpkg.VALUE, sys.slowpkg_loads)
        print(type(sys.modules["slowpkg"]).__name__, sys.modules["slowpkg"].sub is sys.modules["slowpkg.sub"])
    """, tmp_path)
    assert out == ["0", "False", "42", "1", "real", "1", "module", "True"]


def test_espnet_imports_without_inflect_and_its_cleaner_and_g2p_still_work():
    out = run_python("""
        import adapters.bin
        import espnet2.tasks.asr, espnet2.text.phoneme_tokenizer as pt
        print("inflect" in sys.modules)
        from espnet2.text.cleaner import TextCleaner
        print(TextCleaner("tacotron")("(Hello-World); & jr.").replace(" ", "_"))
        print(pt.g2p_en.G2p.__module__, "inflect" in sys.modules)
    """)
    assert out == ["False", "HELLO_WORLD,_AND_JUNIOR", "g2p_en.g2p", "True"]


def test_an_already_imported_module_is_left_alone():
    import json

    defer(("json",))
    assert sys.modules["json"] is json and load("json") is json


def test_the_package_imports_torch_only_when_its_api_is_used():
    # a scoring or data process (python -m adapters.bin.score_asr) imports the package first;
    # it needs no torch, whose import is over a second of every such process's start-up
    out = run_python("""
        import adapters, adapters.bin, adapters.stats, adapters.scoring, adapters.data.kaldi
        print("torch" in sys.modules)
        from adapters import attach, available_methods
        print("torch" in sys.modules, attach is adapters.inject.attach, "hra" in available_methods())
        print(sorted(set(adapters.__all__) - set(dir(adapters))))
        try:
            adapters.no_such_name
        except AttributeError:
            print("AttributeError")
    """)
    assert out == ["False", "True", "True", "True", "[]", "AttributeError"]
