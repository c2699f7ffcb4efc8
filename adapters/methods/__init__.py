"""Adapter methods.  Each module registers its class with ``@register(name)``;
adding a method is one file here plus one import line below.

The order of the imports is the catalogue's order (``adapters.catalogue.methods()``):
the rows of the tables, the configs' and the benchmark's order."""
from adapters.methods import modes  # noqa: F401  frozen, finetune
from adapters.methods import houlsby  # noqa: F401
from adapters.methods import lora  # noqa: F401
from adapters.methods import bitfit  # noqa: F401
from adapters.methods import prefix  # noqa: F401
from adapters.methods import elp  # noqa: F401
from adapters.methods import hra  # noqa: F401
from adapters.methods import fusion  # noqa: F401
