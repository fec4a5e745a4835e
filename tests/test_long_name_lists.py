"""A message lists at most MAX_NAMES_LISTED names and counts the rest: one line stays readable
when a generated net leaves 250,000 outputs or gives one blob as many readers."""
from __future__ import annotations

from pathlib import Path

from backprop_lint.linting.config import Config
from backprop_lint.linting.linter import Linter, Overrides, _FixedConfig
from backprop_lint.linting.rules.explain import names
from backprop_lint.linting.rules.graph import MAX_NAMES_LISTED, quoted_names


def test_names_past_the_limit_are_counted() -> None:
    few = [f"y{index}" for index in range(MAX_NAMES_LISTED)]
    assert quoted_names(few) == [f"`{name}`" for name in few]
    many = [f"y{index}" for index in range(MAX_NAMES_LISTED + 1234)]
    assert quoted_names(many) == [f"`{name}`" for name in few] + ["1,234 more"]
    assert names(many).endswith("`y19` and 1,234 more")
    assert names(["a", "b"]) == "`a` and `b`"


def test_backward_does_nothing_lists_the_first_outputs(tmp_path: Path) -> None:
    count = MAX_NAMES_LISTED + 10
    path = tmp_path / "net.prototxt"
    path.write_text(
        'name: "n"\nlayer { name: "d" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n'
        + "".join(f'layer {{ name: "r{i:02}" type: "ReLU" bottom: "x" top: "y{i:02}" }}\n' for i in range(count))
    )
    report = Linter(_FixedConfig(Config()), Overrides()).lint_paths([path])
    [finding] = [finding for finding in report.findings if finding.code == "BL201"]
    shown = ", ".join(f"`y{i:02}`" for i in range(MAX_NAMES_LISTED))
    assert finding.message.endswith(f"even a diff you write into an output ({shown}, 10 more)")
