from __future__ import annotations

from pathlib import Path

import pytest

from backprop_lint.linting.config import (

    Config,

    ConfigError,

    ConfigFinder,

    code_is_selected,

    load_config_file,

    parse_table,

)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_key_is_read(tmp_path: Path) -> None:
    pyproject = write(
        tmp_path / "pyproject.toml",
        """
[tool.backprop-lint]
select = ["BL1", "BL301"]
ignore = ["BL202"]
severity-threshold = "warning"
need-diff = ["data"]
flavor = "ssd"
phase = "TEST"
level = 2
stages = ["deploy"]
strict = true
[tool.backprop-lint.severity]
BL301 = "error"
[tool.backprop-lint.per-file-ignores]
"legacy/*.prototxt" = ["BL2"]
[tool.backprop-lint.layers.ROIPooling]
params = 0
backward = "respects-pd"
""",
    )
    config = load_config_file(pyproject)
    assert config.select == ("BL1", "BL301")
    assert config.ignore == ("BL202",)
    assert config.severity_threshold == "warning"
    assert config.need_diff == ("data",)
    assert (config.flavor, config.phase, config.level, config.stages, config.strict) == (
        "ssd",
        "TEST",
        2,
        ("deploy",),
        True,
    )
    assert config.severity_of("BL301", "warning") == "error"
    assert config.severity_of("BL302", "warning") == "warning"
    assert config.declared_layers == {"ROIPooling": {"params": 0, "backward": "respects-pd"}}
    assert config.ignored_for_file(str(tmp_path / "legacy" / "old.prototxt")) == ("BL2",)
    assert config.ignored_for_file(str(tmp_path / "new.prototxt")) == ()


@pytest.mark.parametrize(
    "body, key",
    [
        ('colour = "red"', "colour"),
        ('select = "BL1"', "select"),
        ('select = ["E501"]', "select"),
        ('flavor = "caffe2"', "flavor"),
        ('phase = "VAL"', "phase"),
        ('level = "1"', "level"),
        ("strict = 1", "strict"),
        ('severity = {BL301 = "fatal"}', "severity.BL301"),
        ('per-file-ignores = {"*.prototxt" = "BL1"}', "per-file-ignores.*.prototxt"),
        ('layers = {ROIPooling = {backward = "respects-pd"}}', "layers.ROIPooling"),
        ("layers = {ROIPooling = {params = 100000000}}", "layers.ROIPooling"),
    ],
)
def test_invalid_values_name_the_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = write(tmp_path / "backprop-lint.toml", body + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{path}: error: invalid configuration: key '{key}': ")


def test_malformed_toml_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "backprop-lint.toml", "select = [\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    assert "not valid TOML" in str(caught.value) and "\n" not in str(caught.value)


def test_explicit_pyproject_without_table_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"no \[tool.backprop-lint\] table"):
        load_config_file(path)


def test_nearest_configuration_wins_and_table_less_pyproject_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.backprop-lint]\nselect = ["BL1"]\n')
    write(tmp_path / "a" / "pyproject.toml", "[project]\nname = 'a'\n")
    write(tmp_path / "b" / "backprop-lint.toml", 'select = ["BL2"]\n')
    finder = ConfigFinder()
    assert finder.for_file(tmp_path / "a" / "deep" / "net.prototxt").select == ("BL1",)
    assert finder.for_file(tmp_path / "b" / "net.prototxt").select == ("BL2",)
    assert finder.for_file(tmp_path / "b" / "net.prototxt").source == tmp_path / "b" / "backprop-lint.toml"


def test_explicit_config_replaces_discovery(tmp_path: Path) -> None:
    write(tmp_path / "b" / "backprop-lint.toml", 'select = ["BL2"]\n')
    explicit = write(tmp_path / "other.toml", 'select = ["BL3"]\n')
    assert ConfigFinder(explicit).for_file(tmp_path / "b" / "net.prototxt").select == ("BL3",)


@pytest.mark.parametrize(
    "code, select, ignore, expected",
    [
        ("BL101", (), (), True),
        ("BL101", ("BL1",), (), True),
        ("BL201", ("BL1",), (), False),
        ("BL101", (), ("BL1",), False),
        ("BL101", ("BL101",), ("BL1",), True),  # more specific select wins
        ("BL102", ("BL101",), ("BL1",), False),
        ("BL101", ("BL1",), ("BL1",), False),  # ignore wins a tie
        ("BL101", ("ALL",), ("BL10",), False),
    ],
)
def test_selection_uses_the_most_specific_prefix(code: str, select: tuple, ignore: tuple, expected: bool) -> None:
    assert code_is_selected(code, select, ignore) is expected


def test_overrides_ignore_none() -> None:
    config = parse_table({"flavor": "ssd", "level": 3})
    assert config.with_overrides(flavor=None, level=1) == Config(flavor="ssd", level=1)


def test_pattern_without_slash_matches_the_file_name(tmp_path: Path) -> None:
    config = parse_table({"per-file-ignores": {"*_deploy.prototxt": ["BL201"]}}, source=tmp_path / "backprop-lint.toml")
    assert config.ignored_for_file(str(tmp_path / "x" / "y" / "vgg_deploy.prototxt")) == ("BL201",)
