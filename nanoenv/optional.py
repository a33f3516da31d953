"""Optional dependencies: imported when a feature that needs one is asked for, with a
one-line error naming the extra to install when it is missing.

>>> import_optional("math", "none", "this doctest").pi > 3
True
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]


def import_optional(module: str, extra: str, feature: str) -> ModuleType:
    """The module ``module``, or a ``ValueError`` naming the package and its extra.

    :param module: the module to import (``"ray"``, ``"optuna"``).
    :param extra: the ``pyproject.toml`` extra that installs it (``"ray"``, ``"tune"``).
    :param feature: what needs it, as the message starts (``"backend='ray'"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(
            f"{feature} needs the optional package {module}, which is not installed; install "
            f'the extra: pip install -e ".[{extra}]"'
        ) from None
