"""``backprop-lint simulate``: Caffe's own decisions about a net, as JSON.

The output has exactly the oracle's keys (``layers``, ``blobs``, ``inputs``,
``outputs``) plus ``blob_diff_nonzero``, ``param_diff_nonzero`` and
``backward_aborts``. Exit status: 0 when Caffe would build the net, 1 with
``{"error": {...}}`` when it would refuse it, 2 on usage errors.
"""
from __future__ import annotations

import sys

from backprop_lint.caffe.pipeline import run_simulate
from backprop_lint.caffe.records import NamedTuple
from backprop_lint.caffe.text_bytes import printable_json
from backprop_lint.cli.quickargs import APPEND, FLAG, VALUE, Option, add_options, read_plainly

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, Dict, List, Optional, Tuple


def help_text(docstring: str) -> str:
    """A module docstring as --help shows it: without the reStructuredText ``literal`` markers."""
    return docstring.replace("``", "")


def state_options(default_phase: Optional[str] = "TRAIN") -> Tuple[Option, ...]:
    """--phase/--level/--stage/--flavor/--strict/--pack/--build, shared by the commands that build a net."""
    return (
        Option("--phase", VALUE, "net phase, as caffe.Net(file, phase) (default: %(default)s)",
               default=default_phase, convert=str.upper, choices=("TRAIN", "TEST")),
        Option("--level", VALUE, "NetState level (default: 0)", default=0, convert=int),
        Option("--stage", APPEND, "a NetState stage (repeatable)", default=[], metavar="STAGE"),
        Option("--flavor", VALUE, "which Caffe: BVLC 1.0/master or the SSD fork lineage (default: bvlc)",
               default="bvlc", choices=("bvlc", "ssd")),
        Option("--strict", FLAG, "refuse fields the flavour's caffe.proto lacks, as Caffe would", default=False),
        PACK_OPTION,
        BUILD_OPTION,
    )


def pack_name(value: str) -> str:
    from backprop_lint.caffe.model import InputError
    from backprop_lint.caffe.packs import get_pack

    try:
        get_pack(value)
    except InputError as error:
        import argparse

        raise argparse.ArgumentTypeError(error.message) from None
    return value


def build_flag(text: str) -> Dict[str, bool]:
    """argparse type of --build: ``opencv,no-cudnn`` -> {"opencv": True, "cudnn": False}."""
    from backprop_lint.caffe.build_options import parse_build_flag
    from backprop_lint.caffe.model import InputError

    try:
        return parse_build_flag(text)
    except InputError as error:
        import argparse

        raise argparse.ArgumentTypeError(error.message) from None


# --pack and --build check their values with argparse's errors: a command line with them goes to argparse
PACK_OPTION = Option("--pack", APPEND, "enable a layer pack of a Caffe fork (repeatable; `backprop-lint packs` "
                     "lists them)", metavar="NAME", convert=pack_name, plain=False)
BUILD_OPTION = Option("--build", VALUE, "your Caffe build's options, comma-separated: opencv, hdf5, python, cudnn, "
                      "each optionally prefixed with no- (default: opencv,hdf5,python,no-cudnn; options not named "
                      "keep the default)", metavar="OPTIONS", convert=build_flag, plain=False)
CONFIG_OPTION = Option("--config", VALUE, "a pyproject.toml or backprop-lint.toml whose [layers.TYPE] tables "
                       "declare custom and Python layers and whose `packs` are enabled (the rest of it is for "
                       "`check`)", metavar="FILE")
OPTIONS = (
    *state_options(),
    Option("--seed", APPEND, "for a net with no loss: a blob whose diff you write before backward (repeatable; "
           "default: every net output)", metavar="BLOB"),
    Option("--indent", VALUE, "pretty-print the JSON", convert=int),
    CONFIG_OPTION,
)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from backprop_lint.cli.arguments import RawDescriptionHelpFormatter

    parser = subparsers.add_parser(
        "simulate",
        help="print Caffe's need-backward decisions and the resulting gradient flow as JSON",
        description=help_text(__doc__ or ""),
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt (text) or binary NetParameter / .caffemodel")
    add_options(parser, OPTIONS)
    parser.set_defaults(handler=run)


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
    # are trees built here, so the encoder need not track every container to detect a cycle. The
    # newline is written on its own: appending it would copy the whole text once more.
    stdout = sys.stdout
    stdout.write(printable_json(json_text(document, indent)))
    stdout.write("\n")


def json_text(document: Any, indent: Optional[int] = None) -> str:
    """``json.dumps(document, indent=indent)``: ASCII, every other character escaped.

    Encoding without ``ensure_ascii`` is cheaper, and when that text is all ASCII
    (``isascii`` is free on a str) it is the same text, but for DEL, the one ASCII
    character ``ensure_ascii`` escapes: any other text is encoded again."""
    text = _dumps(document, indent, ensure_ascii=False)
    if not text.isascii() or "\x7f" in text:
        text = _dumps(document, indent, ensure_ascii=True)
    return text


def _dumps(document: Any, indent: Optional[int], ensure_ascii: bool) -> str:
    """``json.dumps(document, indent=indent, ensure_ascii=ensure_ascii, check_circular=False)``.

    Without an indent, json.dumps hands the whole document to CPython's C encoder
    (``_json.make_encoder``, json.encoder's ``c_make_encoder``); it is made here the
    same way, so that ``json``, whose decoder and scanner a run never uses, is not
    imported (2 % of a ``simulate`` process). The documents are trees built here:
    no cycle to look for (``markers`` None)."""
    if indent is None:
        try:
            from _json import encode_basestring, encode_basestring_ascii, make_encoder
        except ImportError:  # an interpreter without CPython's accelerator
            pass
        else:
            quote = encode_basestring_ascii if ensure_ascii else encode_basestring
            # markers, default, encoder, indent, key and item separators, sort_keys, skipkeys, allow_nan
            encode = make_encoder(None, _not_serializable, quote, None, ": ", ", ", False, False, True)
            return "".join(encode(document, 0))
    import json

    return json.dumps(document, indent=indent, ensure_ascii=ensure_ascii, check_circular=False)


def _not_serializable(value: Any) -> Any:
    """``JSONEncoder.default``."""
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def main(argv: List[str]) -> int:
    """``backprop-lint simulate ...`` (``argv`` starts with ``simulate``)."""
    args = read_plainly(argv, "net", OPTIONS, run) or parsed_by_argparse(argv, register)
    return int(args.handler(args))


def parsed_by_argparse(argv: List[str], register: Any) -> argparse.Namespace:
    """``argv`` read by a ``backprop-lint`` parser that knows only the subcommand ``register`` adds."""
    from backprop_lint.cli.arguments import ArgumentParser

    parser = ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)
