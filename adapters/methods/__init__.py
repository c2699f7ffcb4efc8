"""Adapter methods.  Each module registers its class with ``@register(name)``;
adding a method is one file here plus one import line below."""
from adapters.methods import modes  # noqa: F401  frozen, finetune
from adapters.methods import bitfit  # noqa: F401
from adapters.methods import houlsby  # noqa: F401
from adapters.methods import lora  # noqa: F401
from adapters.methods import prefix  # noqa: F401
from adapters.methods import hra  # noqa: F401
from adapters.methods import fusion  # noqa: F401
from adapters.methods import elp  # noqa: F401
