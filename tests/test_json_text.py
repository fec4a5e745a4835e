"""``cli.simulate.json_text`` encodes without ``ensure_ascii`` when that gives the same text:
it must always be exactly ``json.dumps(document, indent=indent)``."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest

from backprop_lint.cli.simulate import json_text

#: characters around every edge json's two encoders treat differently or alike
_ALPHABET = [chr(c) for c in range(0x80)] + ["é", "\u2028", "\udce9", "\ud83d", "\U0001f600", "\uffff"]


def _document(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return "".join(rng.choice(_ALPHABET) for _ in range(rng.randrange(6)))
    if kind == 1:
        return rng.choice([True, False, None, 0, -3, 0.0, 1.5, 1e-7])
    if kind == 2:
        return "".join(rng.choice("abc_/0") for _ in range(rng.randrange(8)))
    if kind == 3:
        return rng.choice(["\x7f", "x\x7fy", "plain", ""])
    if kind in (4, 5):
        return [_document(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {_document(rng, 3) if rng.random() < 0.8 else "k\x7f": _document(rng, depth + 1)
            for _ in range(rng.randrange(4))}


@pytest.mark.parametrize("indent", [None, 1])
def test_json_text_is_json_dumps(indent: Any) -> None:
    rng = random.Random(7)
    for _ in range(3000):
        document = {"layers": [_document(rng) for _ in range(3)]}
        assert json_text(document, indent) == json.dumps(document, indent=indent)


def test_json_text_of_the_characters_ensure_ascii_escapes() -> None:
    for text in ["\x7f", "é", "\udce9", "a\u2028b", "ascii only"]:
        assert json_text({"name": text}) == json.dumps({"name": text})
    assert json_text(["\x7f"]) == '["\\u007f"]'


def test_json_text_of_numbers_and_keys_json_dumps_takes() -> None:
    document = {"floats": [0.0, -0.0, 1e300, 1.5e-7, float("inf"), float("-inf"), float("nan")],
                1: "int key", 2.5: "float key", False: "bool key", None: "none key",
                "ints": [0, -1, 2**70], "empty": {}, "nested": [[], [{}], ["é\x7f"]]}
    for indent in (None, 1):
        assert json_text(document, indent) == json.dumps(document, indent=indent)


def test_json_text_refuses_what_json_dumps_refuses() -> None:
    for bad in ({"set": {1}}, {(1, 2): "tuple key"}):
        with pytest.raises(TypeError) as ours:
            json_text(bad)
        with pytest.raises(TypeError) as theirs:
            json.dumps(bad)
        assert str(ours.value) == str(theirs.value)


def test_simulate_writes_its_json_without_importing_json(tmp_path: Any) -> None:
    import subprocess
    import sys

    net = tmp_path / "net.prototxt"
    net.write_text('layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n')
    probe = ("import sys; from backprop_lint.cli import main; status = main(['simulate', sys.argv[1]]); "
             "sys.stdout.flush(); print('json' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, str(net)], capture_output=True, text=True)
    assert json.loads(done.stdout)["layers"][0]["tops"] == ["data"]
    assert done.stderr.strip() == "False"
