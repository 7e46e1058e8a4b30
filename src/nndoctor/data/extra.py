"""The `data` extra (pandas, pyarrow, scikit-learn, scipy, faiss-cpu, datasketch, cleanlab)
is imported lazily; a missing package becomes one line saying what to install."""
from __future__ import annotations

import importlib
from types import ModuleType

from nndoctor.core.errors import UsageError

INSTALL_HINT = "pip install 'nndoctor[data]'"
# import name -> distribution name, for the message
DISTRIBUTIONS = {"sklearn": "scikit-learn", "faiss": "faiss-cpu", "pyarrow": "pyarrow"}


class MissingExtraError(UsageError):
    """A package of the data extra is not installed."""


def require(module: str) -> ModuleType:
    """Import `module` or raise MissingExtraError with the install hint."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = DISTRIBUTIONS.get(module, module.split(".")[0])
        raise MissingExtraError(
            f"the data audit needs {package}, which is not installed; run: {INSTALL_HINT}"
        ) from None


def missing_reason(module: str) -> str | None:
    """None if `module` imports, else the human reason a check is skipped."""
    try:
        require(module)
    except MissingExtraError as error:
        return str(error)
    return None
