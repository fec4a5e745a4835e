"""backprop-lint: which Caffe layers and blobs will get no gradient, and why.

Library entry points (see the README):

* ``lint(net, phase=..., flavor=..., need_diff=...)`` -> ``LintReport``
* ``check_before_training(net, ...)`` raises ``GradientCheckError`` listing the errors
* ``backprop_lint.pipeline.run_simulate(net, ...)`` -> the ``simulate`` JSON
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Finding", "GradientCheckError", "LintReport", "check_before_training", "lint", "__version__"]

if TYPE_CHECKING:
    from .linter import GradientCheckError, LintReport, check_before_training, lint
    from .model import Finding


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `backprop-lint simulate` does not pay for the linter.
    if name in ("lint", "check_before_training", "LintReport", "GradientCheckError"):
        import importlib

        return getattr(importlib.import_module(".linter", __name__), name)
    if name == "Finding":
        from .model import Finding

        return Finding
    raise AttributeError(f"module 'backprop_lint' has no attribute {name!r}")
