"""``linter.leading_field_name`` (how a file is told to be a solver or a net) reads a line as the
pattern it replaced did, ``re.match(r"([A-Za-z_][A-Za-z0-9_]*)\\s*[:{]", line)``, without compiling
that pattern in every `check`: compared on random lines of the characters that matter, Unicode
whitespace and letters included."""
from __future__ import annotations

import random
import re
from typing import Optional

from backprop_lint.linting.linter import leading_field_name

PATTERN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*[:{]")
CHARACTERS = ["a", "Z", "_", "1", "9", " ", "\t", "\x0b", ":", "{", "}", '"', "#", "-", ".", "é", "\u00a0", "\u2003"]


def expected(line: str) -> Optional[str]:
    match = PATTERN.match(line)
    return match.group(1) if match else None


def test_random_lines() -> None:
    rnd = random.Random(10)
    for _ in range(100_000):
        line = "".join(rnd.choice(CHARACTERS) for _ in range(rnd.randint(0, 9)))
        assert leading_field_name(line) == expected(line), repr(line)


def test_lines_of_nets_and_solvers() -> None:
    for line in ['name: "x"', "layer {", "layer{", "base_lr : 0.01", 'net_param {', "  layer", "1abc: 2", "x y: 1",
                 "éa: 1", "a\u00a0: 1", "input_dim: 1", "", ":", "{"]:
        assert leading_field_name(line) == expected(line), repr(line)
