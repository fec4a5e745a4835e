"""What the `simulate` path leaves out of its start-up: `typing`, `dataclasses` and `inspect`.

Importing them was about half of the simulate command's start-up (README,
Performance): the stages' data are records (`caffe/records.py`), table rows
named tuples built without `typing`, and every annotation-only name is
imported under `TYPE_CHECKING`. A fresh interpreter without `site` (whose
development `.pth` files may import `typing` themselves) checks that none of
them comes back, both on import and while `simulate` runs.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from startup_probe import AVOIDED, cli_probe, run_without_site


NET = (
    'name: "n"\n'
    'layer { name: "data" type: "Input" top: "data" top: "label" '
    "input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }\n"
    'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }\n'
    'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }\n'
)
# V1 layers and input fields: the upgrade runs too
V1_NET = (
    'name: "v1"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 8\ninput_dim: 8\n'
    'layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" '
    "convolution_param { num_output: 2 kernel_size: 3 } }\n"
    'layers { name: "relu" type: RELU bottom: "conv" top: "conv" }\n'
)
IMPORTS = "import backprop_lint.cli.simulate, backprop_lint.caffe.load, backprop_lint.caffe.upgrade"
PROBE = cli_probe(AVOIDED)



def test_importing_the_simulate_path_imports_none_of_them() -> None:
    probe = f"{IMPORTS}; import sys; print(sorted(m for m in {AVOIDED!r} if m in sys.modules))"
    assert run_without_site("-c", probe) == "[]"


@pytest.mark.parametrize("text, options", [
    (NET, ()),
    (V1_NET, ()),
    (NET, ("--phase", "TEST", "--flavor", "ssd", "--pack", "ssd", "--build", "no-opencv", "--indent", "2")),
], ids=["plain", "upgraded", "pack-and-build"])
def test_simulate_imports_none_of_them(tmp_path: Path, text: str, options: tuple) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(text)
    assert run_without_site("-c", PROBE, "simulate", str(net), *options) == "0 []"


ON_DEMAND = ("backprop_lint.caffe.schema.packs", "backprop_lint.caffe.binary_net")
ON_DEMAND_PROBE = cli_probe(ON_DEMAND)


@pytest.mark.parametrize("options, imported", [
    ((), "[]"),
    (("--pack", "ssd"), "['backprop_lint.caffe.schema.packs']"),
], ids=["text-net", "with-a-pack"])
def test_pack_tables_and_binary_reader_only_when_needed(tmp_path: Path, options: tuple, imported: str) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NET)
    assert run_without_site("-c", ON_DEMAND_PROBE, "simulate", str(net), *options) == f"0 {imported}"
