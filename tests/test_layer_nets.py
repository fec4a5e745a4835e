"""The hand-made golden nets (fixtures/layer_nets/) cover every registered layer type.

Each type either oracle build registers must appear in a net that its real Caffe
accepted (a golden with a ``structure``), or be listed with a reason in
``fixtures/layer_nets/NOT_EXERCISED.md``. The comparison itself is
tests/test_golden.py, which picks up the ``layer__*`` and ``subtle__*`` goldens.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, Set

import pytest

from backprop_lint.caffe.build_options import ORACLE_BUILDS
from backprop_lint.caffe.layer_table import available_types
from backprop_lint.caffe.load import load_file

REPO = Path(__file__).resolve().parent.parent
NETS_DIR = REPO / "fixtures" / "layer_nets"
GOLDEN_DIR = REPO / "fixtures" / "golden"
NOT_EXERCISED = NETS_DIR / "NOT_EXERCISED.md"
PHASES = ("TRAIN", "TEST")
_LISTED_ROW = re.compile(r"^\| `(\w+)` \| (.+) \|$")


def hand_made_nets() -> list:
    return sorted(NETS_DIR.glob("*.prototxt"))


def declared_types(net: Path) -> Set[str]:
    return {layer.get("type") for layer in load_file(net, flavor="ssd").net.repeated("layer")}


def golden(net: Path, phase: str, flavor: str = "ssd") -> Dict:
    directory = GOLDEN_DIR / "bvlc" if flavor == "bvlc" else GOLDEN_DIR
    return json.loads((directory / f"{net.stem}.{phase}.json").read_text(encoding="utf-8"))


def exercised_types(flavor: str = "ssd") -> Set[str]:
    """Types of the layers in nets that the flavour's real Caffe built in at least one phase."""
    found: Set[str] = set()
    for net in hand_made_nets():
        if any("structure" in golden(net, phase, flavor) for phase in PHASES):
            found |= declared_types(net)
    return found


def listed_not_exercised() -> Dict[str, str]:
    """type -> reason, from the table in NOT_EXERCISED.md."""
    rows = (_LISTED_ROW.match(line.strip()) for line in NOT_EXERCISED.read_text(encoding="utf-8").splitlines())
    return {row.group(1): row.group(2) for row in rows if row}


def test_nets_are_named_for_their_goldens_and_have_both_phases() -> None:
    nets = hand_made_nets()
    assert nets, "no hand-made nets in fixtures/layer_nets"
    for net in nets:
        assert net.stem.startswith(("layer__", "subtle__")), f"{net.name}: name it layer__* or subtle__*"
        for phase in PHASES:
            judged_by_bvlc = golden(net, phase, "bvlc")
            assert judged_by_bvlc["net"] == net.relative_to(REPO).as_posix() and judged_by_bvlc["flavor"] == "bvlc"
            recorded = golden(net, phase)
            assert recorded["net"] == net.relative_to(REPO).as_posix()
            assert recorded["phase"] == phase and recorded["flavor"] == "ssd"
            assert ("structure" in recorded) != ("refusal" in recorded), f"{net.name} {phase}: structure xor refusal"


def test_every_golden_of_a_hand_made_net_has_its_net() -> None:
    stems = {net.stem for net in hand_made_nets()}
    for path in list(GOLDEN_DIR.glob("layer__*.json")) + list(GOLDEN_DIR.glob("subtle__*.json")):
        stem = path.name.split(".")[0]
        assert stem in stems, f"{path.name}: no fixtures/layer_nets/{stem}.prototxt"


@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
def test_every_registered_type_has_a_golden_net_or_a_reason(flavor: str) -> None:
    registered = set(available_types(flavor, ORACLE_BUILDS[flavor]))
    listed = listed_not_exercised()
    missing = sorted(registered - exercised_types(flavor) - set(listed))
    assert not missing, f"registered types with no accepted hand-made net and no reason in NOT_EXERCISED.md: {missing}"


def test_not_exercised_lists_only_unexercised_registered_types_with_reasons() -> None:
    registered = set(available_types("ssd", ORACLE_BUILDS["ssd"]))
    listed = listed_not_exercised()
    assert listed, "NOT_EXERCISED.md has no table rows"
    assert not set(listed) - registered, f"not registered in the oracle build: {sorted(set(listed) - registered)}"
    assert not set(listed) & exercised_types(), f"listed but exercised: {sorted(set(listed) & exercised_types())}"
    assert all(len(reason) > 20 for reason in listed.values())
