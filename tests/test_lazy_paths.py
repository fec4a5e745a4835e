"""Shortcuts the simulate path takes for speed give exactly the results of the long way."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from shared_data import SHARED

from backprop_lint.caffe.flavors import BVLC, SSD
from backprop_lint.caffe.load import load
from backprop_lint.caffe.model import InputError
from backprop_lint.caffe.pipeline import may_need_upgrade
from backprop_lint.caffe.upgrade import upgrade_net_as_needed

REPO = Path(__file__).resolve().parent.parent
NET_DIRS = (SHARED / "corpus" / "nets", SHARED / "spec" / "experiments", REPO / "fixtures" / "oracle_inputs" / "nets")

V1_NET = 'name: "v1"\nlayers { name: "d" type: DATA top: "x" }\n'
INPUT_NET = 'input: "x"\ninput_dim: 1\ninput_dim: 2\nlayer { name: "r" type: "ReLU" bottom: "x" top: "y" }\n'
OLD_BATCHNORM_NET = (
    'layer { name: "d" type: "Input" top: "x" input_param { shape { dim: 1 dim: 2 } } }\n'
    'layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y" param { lr_mult: 0 } param { lr_mult: 0 } '
    "param { lr_mult: 0 } }\n"
)


def _net_files() -> List[Path]:
    return sorted(path for folder in NET_DIRS if folder.is_dir() for path in folder.iterdir() if path.is_file())


@pytest.mark.parametrize("text", [V1_NET, INPUT_NET, OLD_BATCHNORM_NET])
def test_nets_in_old_formats_need_upgrade(text: str) -> None:
    assert may_need_upgrade(load(text).net)


def test_skipping_the_upgrade_changes_nothing() -> None:
    """Whenever the shortcut says no upgrade, the upgrade stage is a no-op."""
    files = _net_files()
    if not files:
        pytest.skip("no nets to compare")
    skipped = 0
    for path in files:
        for flavor in (BVLC, SSD):
            try:
                net = load(path, flavor=flavor.name).net
            except InputError:
                continue
            if may_need_upgrade(net):
                continue
            upgraded, warnings, upgraded_from = upgrade_net_as_needed(net, flavor, str(path))
            assert (upgraded, warnings, upgraded_from) == (net, [], None), path
            skipped += 1
    assert skipped > 0


def test_modern_net_does_not_import_the_upgrade_stage() -> None:
    code = (
        "import sys\n"
        "from backprop_lint.caffe.pipeline import run_simulate\n"
        "result = run_simulate('layer { name: \"d\" type: \"Input\" top: \"x\" "
        "input_param { shape { dim: 1 } } }\\n')\n"
        "print('error' in result, 'backprop_lint.caffe.upgrade' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
