"""``backprop-lint simulate``: Caffe's own decisions about a net, as JSON.

The output has exactly the oracle's keys (``layers``, ``blobs``, ``inputs``,
``outputs``) plus ``blob_diff_nonzero``, ``param_diff_nonzero`` and
``backward_aborts``. Exit status: 0 when Caffe would build the net, 1 with
``{"error": {...}}`` when it would refuse it, 2 on usage errors.
"""
from __future__ import annotations

import argparse
import json
import sys

from backprop_lint.caffe.pipeline import run_simulate
from backprop_lint.caffe.records import NamedTuple
from backprop_lint.caffe.text_bytes import printable_json
from backprop_lint.cli.arguments import ArgumentParser, RawDescriptionHelpFormatter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional


def help_text(docstring: str) -> str:
    """A module docstring as --help shows it: without the reStructuredText ``literal`` markers."""
    return docstring.replace("``", "")


def add_state_arguments(parser: argparse.ArgumentParser, default_phase: Optional[str] = "TRAIN") -> None:
    """--phase/--level/--stage/--flavor, shared by the commands that build a net."""
    parser.add_argument("--phase", choices=("TRAIN", "TEST"), type=str.upper, default=default_phase,
                        help="net phase, as caffe.Net(file, phase) (default: %(default)s)")
    parser.add_argument("--level", type=int, default=0, help="NetState level (default: 0)")
    parser.add_argument("--stage", action="append", default=[], metavar="STAGE",
                        help="a NetState stage (repeatable)")
    parser.add_argument("--flavor", choices=("bvlc", "ssd"), default="bvlc",
                        help="which Caffe: BVLC 1.0/master or the SSD fork lineage (default: bvlc)")
    parser.add_argument("--strict", action="store_true",
                        help="refuse fields the flavour's caffe.proto lacks, as Caffe would")
    add_pack_argument(parser)
    add_build_argument(parser)


def add_pack_argument(parser: Any) -> None:
    """--pack NAME (repeatable): a layer pack of a Caffe fork, on top of the configured ones."""
    parser.add_argument("--pack", action="append", default=None, metavar="NAME", type=pack_name,
                        help="enable a layer pack of a Caffe fork (repeatable; `backprop-lint packs` lists them)")


def pack_name(value: str) -> str:
    from backprop_lint.caffe.model import InputError
    from backprop_lint.caffe.packs import get_pack

    try:
        get_pack(value)
    except InputError as error:
        raise argparse.ArgumentTypeError(error.message) from None
    return value


def build_flag(text: str) -> Dict[str, bool]:
    """argparse type of --build: ``opencv,no-cudnn`` -> {"opencv": True, "cudnn": False}."""
    from backprop_lint.caffe.build_options import parse_build_flag
    from backprop_lint.caffe.model import InputError

    try:
        return parse_build_flag(text)
    except InputError as error:
        raise argparse.ArgumentTypeError(error.message) from None


def add_build_argument(parser: "argparse.ArgumentParser | argparse._ArgumentGroup") -> None:
    parser.add_argument("--build", type=build_flag, default=None, metavar="OPTIONS",
                        help="your Caffe build's options, comma-separated: opencv, hdf5, python, cudnn, "
                             "each optionally prefixed with no- (default: opencv,hdf5,python,no-cudnn; "
                             "options not named keep the default)")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="print Caffe's need-backward decisions and the resulting gradient flow as JSON",
        description=help_text(__doc__ or ""),
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt (text) or binary NetParameter / .caffemodel")
    add_state_arguments(parser)
    parser.add_argument("--seed", action="append", default=None, metavar="BLOB",
                        help="for a net with no loss: a blob whose diff you write before backward "
                             "(repeatable; default: every net output)")
    parser.add_argument("--indent", type=int, default=None, help="pretty-print the JSON")
    add_config_argument(parser)
    parser.set_defaults(handler=run)


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", default=None,
                        help="a pyproject.toml or backprop-lint.toml whose [layers.TYPE] tables declare "
                             "custom and Python layers and whose `packs` are enabled (the rest of it is for `check`)")


class LayerSettings(NamedTuple):
    """What --config, --pack and --build say about the layers a net may use."""

    declared_layers: Dict[str, Any]
    packs: List[str]
    build: Dict[str, bool]


def layer_settings(args: argparse.Namespace) -> Optional[LayerSettings]:
    """The configuration file's declared layers, packs and ``build`` table, with --pack and --build over them.

    None, after saying why on stderr, when the configuration file is wrong
    (as ``cli.commands`` reports it for every command).
    """
    declared: Dict[str, Any] = {}
    packs: List[str] = []
    configured_build: Dict[str, bool] = {}
    if args.config is not None:
        from pathlib import Path

        from backprop_lint.linting.config import ConfigError, load_config_file
        from backprop_lint.report.escape import printable

        try:
            config = load_config_file(Path(args.config))
        except ConfigError as error:
            sys.stderr.write(f"backprop-lint: {printable(str(error))}\n")
            return None
        declared = dict(config.declared_layers)
        packs.extend(config.packs)
        configured_build = dict(config.build)
    packs.extend(name for name in args.pack or () if name not in packs)
    return LayerSettings(declared, packs, {**configured_build, **(args.build or {})})


def run(args: argparse.Namespace) -> int:
    settings = layer_settings(args)
    if settings is None:
        return 2
    result = run_simulate(
        args.net,
        phase=args.phase,
        level=args.level,
        stages=args.stage,
        flavor=args.flavor,
        seeds=args.seed,
        strict=args.strict,
        declared_layers=settings.declared_layers,
        packs=settings.packs,
        build=settings.build,
    )
    write_json(result, indent=args.indent)
    return 1 if "error" in result else 0


def write_json(document: Any, indent: Optional[int] = None) -> None:
    """One JSON document on stdout (the machine-readable output of simulate, backward, verify)."""
    # dumps, not dump: only the one-shot encoder is C, and one write beats thousands; the documents
    # are trees built here, so the encoder need not track every container to detect a cycle
    sys.stdout.write(printable_json(json.dumps(document, indent=indent, check_circular=False)) + "\n")


def main(argv: Optional[List[str]] = None) -> int:
    parser = ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
