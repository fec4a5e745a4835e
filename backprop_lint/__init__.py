"""backprop-lint: which Caffe layers and blobs will get no gradient, and why."""
from __future__ import annotations

__version__ = "0.1.0"
