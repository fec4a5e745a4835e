"""Caffe's schema: plain tables (``schema.tables``) and, on demand, protobuf classes.

The classes live in a private descriptor pool so that they never clash with
pycaffe's ``caffe_pb2``, which registers the same ``caffe`` package in
protobuf's default pool.  protobuf is imported only when a class is asked for.
"""
from __future__ import annotations

import _thread
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional

#: the compiled schema (a str path; ``FDS_PATH`` is the same as a ``pathlib.Path``)
FDS_FILE = os.path.join(os.path.dirname(__file__), "caffe_fds.bin")
PACKAGE = "caffe"

# _thread, not threading, and no pathlib at import: the text path never builds a pool,
# and those two modules cost `backprop-lint simulate` several milliseconds of start-up
_lock = _thread.allocate_lock()
_pool: Optional[Any] = None
_classes: Dict[str, Any] = {}


def descriptor_pool() -> Any:
    """The private DescriptorPool holding caffe.proto (built on first use)."""
    global _pool
    with _lock:
        if _pool is None:
            from google.protobuf import descriptor_pb2, descriptor_pool as pool_module

            pool = pool_module.DescriptorPool()
            file_set = descriptor_pb2.FileDescriptorSet.FromString(_read_fds())
            for file_proto in file_set.file:
                pool.Add(file_proto)
            _pool = pool
        return _pool


def message_class(name: str) -> Any:
    """The generated class of message ``name`` ("LayerParameter" or "caffe.LayerParameter")."""
    full_name = name if name.startswith(PACKAGE + ".") else f"{PACKAGE}.{name}"
    cached = _classes.get(full_name)
    if cached is not None:
        return cached
    from google.protobuf import message_factory

    descriptor = descriptor_pool().FindMessageTypeByName(full_name)
    cls = message_factory.GetMessageClass(descriptor)
    _classes[full_name] = cls
    return cls


def net_parameter_class() -> Any:
    """The class of caffe.NetParameter from the private pool."""
    return message_class("NetParameter")


def _read_fds() -> bytes:
    with open(FDS_FILE, "rb") as stream:
        return stream.read()


def __getattr__(name: str) -> Any:
    if name == "FDS_PATH":
        from pathlib import Path

        return Path(FDS_FILE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
