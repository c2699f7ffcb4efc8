"""The programs the ASR template's token and LM stages run: sentencepiece's trainer
(``adapters.bin.spm_train``) and ESPnet's own programs behind our start-up (``adapters.bin.espnet``)."""
import subprocess
import sys

TEXT = "HELLO WORLD\nTHE QUICK BROWN FOX\nJUMPS OVER THE LAZY DOG\nA SMALL TEXT FOR A SMALL MODEL\n"


def run(*args, cwd):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_spm_train_writes_a_model_sentencepiece_loads(tmp_path):
    (tmp_path / "text").write_text(TEXT)
    r = run("adapters.bin.spm_train", "--input=text", "--vocab_size=30", "--model_type=unigram",
            "--model_prefix=bpe", "--character_coverage=1.0", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import sentencepiece as spm

    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "bpe.model"))
    assert sp.get_piece_size() == 30
    assert sp.decode(sp.encode("THE LAZY FOX")) == "THE LAZY FOX"


def test_spm_train_names_what_is_wrong(tmp_path):
    (tmp_path / "text").write_text(TEXT)
    (tmp_path / "empty").write_text("")
    cases = [
        (["--input=missing", "--vocab_size=30", "--model_prefix=m"], "no text to train on in missing (missing or empty)"),
        (["--input=empty", "--vocab_size=30", "--model_prefix=m"], "no text to train on in empty (missing or empty)"),
        (["--input", "text"], "expected --flag=value, got '--input'"),
        (["--vocab_size=30", "--model_prefix=m"], "--input=FILE is required"),
        (["--input=text", "--vocab_size=3000", "--model_prefix=m"], "could not train on text"),
        (["--input=text", "--no_such_flag=1", "--model_prefix=m"], 'unknown field name "no_such_flag"'),
    ]
    for args, message in cases:
        r = run("adapters.bin.spm_train", *args, cwd=tmp_path)
        assert r.returncode != 0 and message in r.stderr, (args, r.stderr[-500:])
    assert "Vocabulary size too high" in run("adapters.bin.spm_train", *cases[4][0], cwd=tmp_path).stderr
    assert not (tmp_path / "m.model").exists()


def test_espnet_program_runs_without_a_download(tmp_path):
    (tmp_path / "text").write_text(TEXT)
    r = run("adapters.bin.espnet", "tokenize_text", "--input", "text", "--output", "tokens", "--token_type", "char",
            "--field", "1-", "--cleaner", "none", "--g2p", "none", "--write_vocabulary", "true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    tokens = (tmp_path / "tokens").read_text().split()
    assert set(tokens) == {"<space>", *set(TEXT.replace(" ", "").replace("\n", ""))}
    # g2p_en imported for real would ask NLTK for its corpora (offline: "[nltk_data] Error loading ...")
    assert "nltk" not in r.stdout + r.stderr


def test_g2p_en_stays_deferred_in_the_program():
    code = ("import sys, adapters.bin.espnet as e; sys.argv = ['x']; import espnet2.bin.tokenize_text; "
            "from adapters.deferred_imports import DeferredModule; "
            "print(isinstance(sys.modules.get('g2p_en'), DeferredModule))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True"


def test_espnet_unknown_program(tmp_path):
    r = run("adapters.bin.espnet", "nonesuch", cwd=tmp_path)
    assert r.returncode != 0 and "ESPnet has no program espnet2.bin.nonesuch" in r.stderr
