"""Cyclic garbage collection paused where it can only find nothing."""
from __future__ import annotations

import gc


class gc_paused:
    """``with gc_paused():`` runs without cyclic garbage collection.

    For the stages: they build many small containers and free almost none, so
    the collector would rescan an ever larger heap (the cost grows faster than
    the net) to find nothing. For a command's imports: they create tens of
    thousands of objects (classes, functions, table rows) and no garbage; the
    collector scanned them 8 times during the simulate path's import, 5.3 M of
    its 69 M instructions.

    A class rather than a ``contextlib.contextmanager``: importing ``contextlib`` is
    about 3 % of the simulate path's import.
    """

    def __enter__(self) -> None:
        self.collecting = gc.isenabled()
        gc.disable()

    def __exit__(self, *exception: object) -> None:
        if self.collecting:
            gc.enable()
