"""``backprop-lint verify``: check the backward prediction against real pycaffe.

Builds NET with real pycaffe (in a child process; data layers whose source is
absent become Input layers of inferred shape, and the command says so), runs
one forward and one ``net.backward(start=..., end=...)`` with the --seed
blobs' diffs filled with random values (default for a net with no loss: every
net output), and compares every blob and parameter diff that Caffe leaves
non-zero with backprop-lint's prediction. Any disagreement is printed as a bug
report for backprop-lint.

Nets with Python layers are refused: building them would import and execute
the layer's module. Without --flavor, the prediction is made for the Caffe
pycaffe was built from (``ssd`` when it registers SSD-only layer types). pycaffe is imported as installed, or from
$CAFFE_ORACLE_HOME/python (default ~/.cache/caffe-oracle/python).

Exit status: 0 prediction and pycaffe agree, 1 they disagree or the net cannot
be verified, 2 usage errors.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from backprop_lint.backward.plan import DEFAULT_PHASE
from backprop_lint.cli.quickargs import APPEND, VALUE, Option, add_options
from backprop_lint.cli.simulate import help_text, state_options, write_json
from backprop_lint.caffe.model import BackpropLintError
from backprop_lint.caffe.pipeline import error_to_json
from backprop_lint.cli.arguments import ArgumentParser, RawDescriptionHelpFormatter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, TextIO

    from backprop_lint.backward.pycaffe import VerifyReport


OPTIONS = (
    Option("--weights", VALUE, "a .caffemodel to load (default: random parameters)"),
    Option("--start", VALUE, "net.backward(start=LAYER)", metavar="LAYER"),
    Option("--end", VALUE, "net.backward(end=LAYER)", metavar="LAYER"),
    Option("--seed", APPEND, "fill this blob's diff before backward (repeatable; default for a net with no loss: "
           "every net output)", metavar="BLOB"),
    # --flavor not given: predict for the Caffe that pycaffe was built from
    *(option._replace(default=None) if option.dest == "flavor" else option
      for option in state_options(default_phase=DEFAULT_PHASE)),
    Option("--format", VALUE, "output format", default="text", choices=("text", "json")),
)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "verify",
        help="run the net in real pycaffe and compare its non-zero diffs with the prediction",
        description=help_text(__doc__ or ""),
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt")
    add_options(parser, OPTIONS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # here, not at import: every command but check and simulate builds the whole parser, verify's included
    from backprop_lint.backward.pycaffe import PycaffeUnavailable, pycaffe_flavor, pycaffe_status, verify_backward

    ready, reason = pycaffe_status()
    if not ready:
        sys.stderr.write(f"error: verify needs real pycaffe: {reason}\n")
        return 1
    flavor = args.flavor or pycaffe_flavor()
    try:
        report = verify_backward(
            args.net, phase=args.phase, level=args.level, stages=args.stage, flavor=flavor,
            start=args.start, end=args.end, seeds=args.seed, weights=args.weights, build=args.build,
        )
    except (BackpropLintError, PycaffeUnavailable) as error:
        if args.format == "json":
            write_json(error_to_json(error), indent=1)
        else:
            sys.stderr.write(f"{args.net}: error: {getattr(error, 'message', error)}\n")
        return 1
    if args.format == "json":
        write_json(report.to_json(), indent=1)
    else:
        render_text(report, _command_line(args), sys.stdout)
    return 0 if report.agrees else 1


def _command_line(args: argparse.Namespace) -> str:
    words = ["backprop-lint", "verify", args.net, "--phase", args.phase]
    for option in ("weights", "start", "end"):
        value = getattr(args, option)
        if value is not None:
            words += [f"--{option}", value]
    for seed in args.seed or []:
        words += ["--seed", seed]
    return " ".join(shlex.quote(word) for word in words)


def render_text(report: VerifyReport, command: str, stream: TextIO) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for message in report.replaced:
        console.print(f"[yellow]note:[/] {escape(message)}")
    call = ", ".join(f"{k}={v!r}" for k, v in (("start", report.start), ("end", report.end)) if v is not None)
    console.print(f"{escape(report.file)} ({report.phase}): forward, then seeds {escape(', '.join(report.seeds) or 'none')}, "
                  f"then net.backward({escape(call)})")
    measured = report.measured
    if measured.ok:
        nonzero = [n for n, v in zip(measured.blob_names, measured.blob_diff_nonzero) if v]
        console.print(f"  pycaffe: non-zero blob diffs: {escape(', '.join(nonzero) or 'none')}")
    else:
        console.print(f"  pycaffe failed during {measured.stage}: {escape(measured.error or '')}")
    if report.agrees:
        console.print(f"[green]agreement[/]: {report.compared} diffs compared"
                      + (f", {report.unknown} unknown (custom layers)" if report.unknown else ""))
        return
    console.print(f"[bold red]DISAGREEMENT[/] between backprop-lint and real pycaffe "
                  f"({len(report.disagreements)} of {report.compared}). Please report it as a backprop-lint bug:")
    console.print(f"  reproduce: {escape(command)}")
    for item in report.disagreements:
        console.print(f"  {item.what} {escape(item.name)}: predicted {escape(_shown(item.predicted))}, "
                      f"pycaffe {escape(_shown(item.measured))}")


def _shown(value: object) -> str:
    if value is True:
        return "non-zero"
    if value is False:
        return "zero"
    return str(value)


def main(argv: Optional[List[str]] = None) -> int:
    parser = ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
