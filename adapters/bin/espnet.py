"""ESPnet's own programs (``espnet2.bin.<name>``), started behind this package's start-up.

    python -m adapters.bin.espnet lm_train --config conf/train_lm.yaml ...
    python -m adapters.bin.espnet tokenize_text --input text --output tokens ...

``python -m espnet2.bin.<name>`` imports ``g2p_en`` through ESPnet's phoneme tokenizer, and
``g2p_en`` asks NLTK to download two corpora from GitHub on import (a run-time download the
recipes must not make; offline it prints eight lines of errors and goes on), then instruments
ESPnet's type-checked functions.  Started from here, ``adapters.bin`` first defers ``g2p_en``
until a phoneme tokenizer is really built and skips the type checks
(``adapters/deferred_imports.py``, ``adapters/typechecks.py``); the program itself is ESPnet's,
given the same options.
"""
from __future__ import annotations

import importlib
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    name, options = argv[0], argv[1:]
    module_name = f"espnet2.bin.{name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        sys.exit(f"adapters.bin.espnet: ESPnet has no program {module_name}")
    if not callable(getattr(module, "main", None)):
        sys.exit(f"adapters.bin.espnet: {module_name} has no main()")
    sys.argv = [module_name, *options]  # what the program's own help and logs name
    module.main(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
