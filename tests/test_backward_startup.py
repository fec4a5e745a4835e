"""What the `backward` path leaves out of its start-up: `typing`, `dataclasses` and `inspect`.

`backward` imports the simulate path (tests/test_simulate_startup.py) plus the
planner and its report: their data are records (`caffe/records.py`) and every
annotation-only name is imported under `TYPE_CHECKING`. A fresh interpreter
without `site` (whose development `.pth` files may import `typing` themselves)
checks that none of them comes back, on import and while `backward` runs,
with its text or JSON report, the fix search and a misspelt name's hint.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from startup_probe import AVOIDED, cli_probe, run_without_site


NO_LOSS = (
    'name: "n"\n'
    'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }\n'
    'layer { name: "fc" type: "InnerProduct" bottom: "data" top: "fc" inner_product_param { num_output: 2 } }\n'
)
PROBE = cli_probe(AVOIDED)



def test_importing_the_backward_path_imports_none_of_them() -> None:
    probe = f"import backprop_lint.cli.backward, sys; print(sorted(m for m in {AVOIDED!r} if m in sys.modules))"
    assert run_without_site("-c", probe) == "[]"


@pytest.mark.parametrize(
    "options",
    [
        (),  # no loss: every diff is zero, the fix is searched with force_backward on
        ("--format", "json"),
        ("--start", "fc", "--end", "dta", "--read", "data"),  # a misspelt layer: the did-you-mean hint
    ],
)
def test_running_backward_imports_none_of_them(tmp_path: Path, options: tuple) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text(NO_LOSS)
    assert run_without_site("-c", PROBE, "backward", str(net), *options) == "1 []"
