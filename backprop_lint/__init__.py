"""backprop-lint: which Caffe layers and blobs will get no gradient, and why.

Library entry points (see the README):

* ``lint(net, phase=..., flavor=..., need_diff=...)`` -> ``LintReport``
* ``check_before_training(net, ...)`` raises ``GradientCheckError`` listing the errors
* ``backprop_lint.caffe.pipeline.run_simulate(net, ...)`` -> the ``simulate`` JSON
"""
from __future__ import annotations

__all__ = ["Finding", "GradientCheckError", "LintReport", "check_before_training", "lint", "__version__"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from backprop_lint._version import __version__
    from backprop_lint.linting.linter import GradientCheckError, LintReport, check_before_training, lint
    from backprop_lint.linting.findings import Finding


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `backprop-lint simulate` does not pay for the linter
    # (nor for the module of the version, which it never prints).
    if name == "__version__":
        from backprop_lint._version import __version__

        return __version__
    if name in ("lint", "check_before_training", "LintReport", "GradientCheckError"):
        import importlib

        return getattr(importlib.import_module("backprop_lint.linting.linter"), name)
    if name == "Finding":
        from backprop_lint.linting.findings import Finding

        return Finding
    raise AttributeError(f"module 'backprop_lint' has no attribute {name!r}")
