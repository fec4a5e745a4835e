"""`simulate` and `backward` read plain command lines without argparse: the same namespace, or argparse's say.

`cli/quickargs.read_plainly` reads the options argparse is given; whenever it
reads a command line, argparse must read it too, to an equal namespace. The
command lines are generated from tokens that probe argparse's corners (an
abbreviation, `--opt=value`, values starting with `-`, `--`, empty strings,
conversions and choices that fail, repeated and missing arguments).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import random
from typing import Any, Dict, List, Optional

import pytest
from startup_probe import cli_probe, run_without_site

from backprop_lint.cli import backward, commands, simulate
from backprop_lint.cli.arguments import MAX_ARGUMENTS, ArgumentParser
from backprop_lint.cli.quickargs import read_plainly

COMMANDS = {"simulate": simulate, "backward": backward}
#: tokens of graph's and verify's options, with simulate's and backward's
OTHER_TOKENS = ["-o", "--output", "out.svg", "--splits", "--need-diff", "--weights", "w.caffemodel", "--read"]
TOKENS = [
    "net.prototxt", "other", "", "-", "--", "-h", "--help", "-x", "--seed=a", "--ph", "--phase=TEST",
    "--phase", "TEST", "test", "train", "bad", "--level", "3", " 3", "3_0", "-1", "x", "--stage", "s1",
    "--flavor", "ssd", "bvlc", "--strict", "--seed", "a", "--read", "--start", "--end", "--format", "json",
    "text", "--indent", "2", "--config", "cfg.toml", "--pack", "--build", "no-opencv",
]
CHECK_TOKENS = [
    "net.prototxt", "models/", "", "-", "--", "-h", "-x", "--phase", "TEST", "bad", "--level", "3", "-1",
    "--stage", "s1", "--flavor", "ssd", "--strict", "--need-diff", "data", "--config", "cfg.toml", "--select",
    "BL001", "bl2", "XX9", "BL0,BL2", "--ignore", "--severity", "warning", "--fail-on", "--format", "json",
    "sarif", "--color", "never", "--exit-zero", "--no-progress", "--jobs", "-j", "1", "0", "--jobs=2",
    "--max-findings-per-file", "5", "--graph", "out", "--statistics", "-q", "--quiet", "-qq", "-o",
    "--output-file", "report.txt", "--stdin-filename", "--add-suppressions", "--add-noqa", "--baseline",
    "--write-baseline", "--fix", "--diff", "--force", "--pack", "--fi",
]


@functools.lru_cache(maxsize=None)
def parser_for(command: str) -> argparse.ArgumentParser:
    """The parser the command line of ``command`` goes to when it is not plain (one per test run)."""
    if command in COMMANDS:
        parser = ArgumentParser(prog="backprop-lint")
        COMMANDS[command].register(parser.add_subparsers(dest="command", required=True))
        return parser
    return commands.build_parser(check_only=command == "check")


def by_argparse(argv: List[str]) -> Optional[Dict[str, Any]]:
    """argparse's namespace for ``argv``, or None when it refuses it."""
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(parser_for(argv[0]).parse_args(argv))
        except SystemExit:
            return None


def plainly(argv: List[str]) -> Optional[Dict[str, Any]]:
    if argv[0] == "check":
        read = read_plainly(argv, commands.CHECK_PATHS, commands.CHECK_OPTIONS, commands.run_check)
    elif argv[0] in ("graph", "verify"):
        read = commands.read_other_command_plainly(argv)
    else:
        module = COMMANDS[argv[0]]
        read = read_plainly(argv, "net", module.OPTIONS, module.run)
    return None if read is None else vars(read)


@pytest.mark.parametrize("command", ["backward", "check", "graph", "simulate", "verify"])
def test_generated_command_lines_read_alike(command: str) -> None:
    rng = random.Random(f"quickargs-{command}")
    tokens = CHECK_TOKENS if command == "check" else TOKENS + OTHER_TOKENS
    read = 0
    for _ in range(4000):
        argv = [command, *rng.choices(tokens, k=rng.randint(0, 9))]
        plain = plainly(argv)
        if plain is not None:
            read += 1
            assert plain == by_argparse(argv), argv
    assert read > 100  # the plain reading is exercised, not only the fallback


@pytest.mark.parametrize("argv", [
    ["simulate", "net.prototxt"],
    ["simulate", "--phase", "test", "net.prototxt", "--level", "2", "--stage", "a", "--stage", "b", "--strict"],
    ["simulate", "net.prototxt", "--flavor", "ssd", "--seed", "x", "--indent", "2", "--config", "c.toml"],
    ["simulate", "net.prototxt", "--phase", "TEST", "--phase", "TRAIN"],
    ["backward", "net.prototxt", "--start", "fc", "--end", "conv", "--seed", "fc", "--read", "data"],
    ["backward", "--format", "json", "net.prototxt", *[f"--seed={i}" for i in ()], "--read", "a", "--read", "b"],
    ["backward", "net.prototxt", *[token for i in range(500) for token in ("--seed", f"r{i}")]],
    ["check"],
    ["check", "a.prototxt", "b.prototxt", "models/"],
    ["check", "--flavor", "ssd", "--color", "never", "--no-progress", "--jobs", "1", "net.prototxt"],
    ["check", "net.prototxt", "--select", "BL0,bl2", "--select", "BL3", "-q", "-o", "report.txt", "-j", "2"],
    ["check", "--format", "json", "--fix", "--add-noqa", "--baseline", "b.json", "m/"],
    ["graph", "net.prototxt", "-o", "out.svg", "--splits", "--seed", "a", "--read", "b", "--need-diff", "c"],
    ["verify", "net.prototxt", "--weights", "w.caffemodel", "--seed", "a", "--format", "json"],
    ["verify", "net.prototxt", "--flavor", "ssd"],
], ids=["net-only", "state", "simulate-options", "last-wins", "backward-call", "backward-reads", "many-seeds",
        "check-here", "check-paths", "check-options-first", "check-options-after", "check-flags", "graph",
        "verify", "verify-flavor"])
def test_common_command_lines_are_read_plainly_and_alike(argv: List[str]) -> None:
    plain = plainly(argv)
    assert plain is not None
    assert plain == by_argparse(argv)


@pytest.mark.parametrize("argv", [
    ["simulate"],  # the net is missing: argparse says so
    ["simulate", "a", "b"],
    ["simulate", "net", "--help"],
    ["simulate", "net", "--phase=TEST"],
    ["simulate", "net", "--ph", "TEST"],
    ["simulate", "net", "--phase", "bad"],
    ["simulate", "net", "--level", "x"],
    ["simulate", "net", "--level", "-1"],
    ["simulate", "net", "--seed"],
    ["simulate", "net", "--pack", "ssd"],
    ["simulate", "net", "--build", "no-opencv"],
    ["simulate", "", "--strict"],
    ["backward", "net", "--format", "yaml"],
    ["backward", "net", "--seed", "-x"],
    ["backward", "net", "--", "--seed"],
    ["check", "a", "--flavor", "ssd", "b"],
    ["check", "--flavor", "ssd", "a", "-q"],
    ["check", "a", "--select", "XX9"],
    ["check", "a", "--jobs", "0"],
    ["check", "a", "--jobs=2"],
], ids=lambda argv: " ".join(argv) or "none")
def test_other_command_lines_go_to_argparse(argv: List[str]) -> None:
    assert plainly(argv) is None


def test_mutating_a_read_list_leaves_the_next_reading_alone() -> None:
    first = plainly(["simulate", "net"])
    assert first is not None
    first["stage"].append("changed")
    second = plainly(["simulate", "net"])
    assert second is not None and second["stage"] == []


@pytest.mark.parametrize("options", [(), ("--phase", "TEST", "--seed", "data", "--indent", "2")],
                         ids=["net", "options"])
def test_plain_command_lines_do_not_import_argparse(tmp_path: Any, options: tuple) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text('name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n')
    probe = cli_probe(("argparse", "gettext", "locale"))
    assert run_without_site("-c", probe, "simulate", str(net), *options) == "0 []"
    assert run_without_site("-c", probe, "backward", str(net), "--read", "data") == "1 []"
    assert run_without_site("-c", probe, "check", "--no-progress", str(net)) == "0 []"
    assert run_without_site("-c", probe, str(net)) == "0 []"  # `check` is the default command


def test_long_plain_command_lines_are_read_and_others_refused(tmp_path: Any, capsys: Any) -> None:
    from backprop_lint.cli import main

    net = tmp_path / "net.prototxt"
    net.write_text('name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n')
    seeds = ["data"] * MAX_ARGUMENTS
    assert main(["simulate", str(net), *[a for seed in seeds for a in ("--seed", seed)]]) == 0
    assert '"blob_diff_nonzero": {"data": true}' in capsys.readouterr().out  # seeded
    with pytest.raises(SystemExit) as refused:
        main(["simulate", str(net), *[f"--seed={seed}" for seed in seeds]])
    assert refused.value.code == 2
    assert f"{MAX_ARGUMENTS + 2:,} arguments are too many" in capsys.readouterr().err  # the command and the net too
