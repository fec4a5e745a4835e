"""A fresh interpreter without `site` that runs backprop-lint and says which modules it imported.

`site`'s `.pth` files (an editable install's finder, setuptools' hacks) may import `typing` and
more before backprop-lint starts, so the start-up tests run `python -S` with the checkout on
`PYTHONPATH`: what is imported then is backprop-lint's doing.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

import backprop_lint

#: what importing `dataclasses` and `typing` costs at every start (README, Performance); `shutil`:
#: argparse's help formatter imports it (with bz2, lzma, zlib) unless given a width (cli/arguments.py)
AVOIDED = ("typing", "dataclasses", "inspect", "shutil")
CHECKOUT = str(Path(backprop_lint.__file__).resolve().parent.parent)


def run_without_site(*args: str) -> str:
    """The last line a `python -S` child printed (it must exit 0)."""
    env = dict(os.environ, PYTHONPATH=CHECKOUT)
    done = subprocess.run([sys.executable, "-S", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def cli_probe(modules: Sequence[str]) -> str:
    """Code that runs the command line on its arguments and prints the exit status and which of
    ``modules`` were imported, e.g. ``1 []``."""
    return (
        "import sys; from backprop_lint.cli import main; code = main(sys.argv[1:]); "
        f"print(code, sorted(m for m in {tuple(modules)!r} if m in sys.modules))"
    )
