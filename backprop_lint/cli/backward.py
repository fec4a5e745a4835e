"""``backprop-lint backward``: what pycaffe's ``net.backward(start=..., end=...)`` will do.

Exit status: 0 every requested diff is non-zero, 1 some is zero (or no layer
of the range runs, or nothing is read, or a name is wrong, or Caffe would
refuse the net), 2 usage errors.
"""
from __future__ import annotations

import sys

from backprop_lint.backward.plan import DEFAULT_PHASE, BackwardPlan, CallFix, plan_backward
from backprop_lint.cli.quickargs import APPEND, VALUE, Option, add_options, read_plainly
from backprop_lint.cli.simulate import CONFIG_OPTION, layer_settings, parsed_by_argparse, state_options, write_json
from backprop_lint.caffe.model import InputError, NetRefused
from backprop_lint.caffe.pipeline import error_to_json
from backprop_lint.report.escape import printable
from backprop_lint.report.plain import plain_lines, rich_styles, unchanged_by_rich

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Dict, List, Sequence, TextIO

    from backprop_lint.report.plain import Piece

    #: a line of the report: (text, rich style) pieces; the text is already printable
    Line = List[Piece]


DESCRIPTION = """\
Replays caffe.Net(NET, caffe.TEST) followed by net.backward(start=START, end=END),
with the diffs of the --seed blobs written by hand, and says for every --read
blob whether its diff will be non-zero, why not, and which call fixes it.

exit status: 0 every requested diff is non-zero; 1 some diff stays zero, no
layer of the range runs, nothing is read, a name is wrong, or Caffe would
refuse the net; 2 usage errors.
"""


OPTIONS = (
    Option("--start", VALUE, "net.backward(start=LAYER): a layer name", metavar="LAYER"),
    Option("--end", VALUE, "net.backward(end=LAYER): a layer name", metavar="LAYER"),
    Option("--seed", APPEND, "a blob whose diff you write before the call (repeatable; default for a net with "
           "no loss: every net output)", default=[], metavar="BLOB"),
    Option("--read", APPEND, "a blob whose diff you read after the call (repeatable; default: the keys "
           "net.backward returns)", default=[], metavar="BLOB"),
    *state_options(default_phase=DEFAULT_PHASE),
    CONFIG_OPTION,
    Option("--format", VALUE, "output format", default="text", choices=("text", "json")),
)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    from backprop_lint.cli.arguments import RawDescriptionHelpFormatter

    parser = subparsers.add_parser(
        "backward",
        help="explain pycaffe's net.backward(start=..., end=...) on a net: which diffs stay zero and why",
        description=DESCRIPTION,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt (the deploy net you load in pycaffe)")
    add_options(parser, OPTIONS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = layer_settings(args)
    if settings is None:
        return 2
    try:
        plan = plan_backward(
            args.net,
            start=args.start,
            end=args.end,
            seeds=args.seed,
            reads=args.read,
            phase=args.phase,
            level=args.level,
            stages=args.stage,
            flavor=args.flavor,
            strict=args.strict,
            declared_layers=settings.declared_layers,
            packs=settings.packs,
            build=settings.build,
        )
    except (InputError, NetRefused) as error:
        if args.format == "json":
            write_json(error_to_json(error), indent=1)
        else:
            sys.stderr.write(f"{printable(str(error))}\n")
        return 1
    if args.format == "json":
        write_json(plan.to_json(), indent=1)
    else:
        render_text(plan, sys.stdout)
    return 0 if plan.ok else 1


# ---------------------------------------------------------------------------
# Text (for people)
# ---------------------------------------------------------------------------

def render_text(plan: BackwardPlan, stream: TextIO) -> None:
    """The report, plain when rich would print it unstyled (a pipe, a file), else through rich."""
    lines = report_lines(plan)
    # (whole lines: rich's emoji codes may run across pieces)
    if not rich_styles(stream, None) and unchanged_by_rich(("".join(text for text, _ in line) for line in lines),
                                                            markup=True):
        stream.write(plain_lines(lines))
        return
    from rich.console import Console

    console = Console(file=stream, highlight=False, soft_wrap=True)
    # one print: rich's per-call cost is large on long nets
    console.print("\n".join(_markup(line) for line in lines))


def _markup(line: Sequence[Piece]) -> str:
    """A line as rich console markup: every piece escaped, styled pieces in their tags."""
    from rich.markup import escape

    return "".join(f"[{style}]{escape(text)}[/]" if style else escape(text) for text, style in line)


def report_lines(plan: BackwardPlan) -> List[Line]:
    lines: List[Line] = []
    call = plan.user_call()
    lines.append([(printable(plan.file), "bold"), (f" ({printable(plan.net_name or 'unnamed')}), phase {plan.phase}, "
                  f"force_backward: {'true' if plan.force_backward else 'false'}", "")])
    lines.append([(f"  {printable(call)}", "")])
    for issue in plan.name_issues:
        style = "red" if issue.fatal else "yellow"
        line: Line = [(f"{printable(issue.option)}=", style), (f" {printable(issue.problem)}", "")]
        if issue.suggestion:
            line += [(" → use ", ""), (printable(repr(issue.suggestion)), "bold")]
        lines.append(line)
    lines.append([])
    lines.append([(f"Layers #{plan.start_index} down to #{plan.end_index}", "bold"), (" (BackwardFromTo order):", "")])
    marks = {True: ("runs   ", "green"), False: ("skipped", "red"), None: ("unknown", "yellow")}
    whys: Dict[str, str] = {}  # most layers of a large net are skipped for the same reason
    for step in plan.steps:
        why = whys.get(step.why)
        if why is None:
            shown = printable(step.why.replace("skipped: ", "").replace("runs backward", "").strip())
            why = whys[step.why] = f"  {shown}" if shown else ""
        lines.append([("  ", ""), marks[step.runs],
                      (f" #{step.index:<3} {printable(step.name)} ({printable(step.type)}){why}", "")])
    if not plan.steps:
        lines.append([("  (none: start comes before end)", "")])
    elif plan.runs_nothing:
        lines.append([("  ", ""), ("(no layer of the range runs backward: the call changes no diff)", "red")])
    lines.append([])
    sources = ", ".join(plan.seeds + plan.loss_blobs) or "none"
    lines.append([("Gradient sources:", "bold"), (f" {printable(sources)}", "")])
    for seed_note in plan.seed_notes:
        lines.append([("  ", ""), (f"seed '{printable(seed_note.blob)}':", "red"),
                      (f" {printable(seed_note.message)}", "")])
    line = [("Diffs you read:", "bold")]
    if not plan.reads:
        line += [(" ", ""), ("(none)", "red")]
    lines.append(line)
    verdicts = {True: ("non-zero", "green"), False: ("ZERO", "red"), None: ("unknown", "yellow")}
    for read in plan.reads:
        lines.append([(f"  {printable(read.blob)}: ", ""), verdicts[read.nonzero]])
        lines.extend([(f"      {printable(reason)}", "")] for reason in read.reasons)
    lines.append([("net.backward returns:", "bold"), (f" {printable(', '.join(plan.returned_keys) or '{}')}", "")])
    lines.append([])
    lines.extend([("note:", "dim"), (f" {printable(note)}", "")] for note in plan.notes)
    if plan.fix is not None:
        lines.append([])
        lines.extend(_fix_lines(plan.fix))
    return lines


def _fix_lines(fix: CallFix) -> List[Line]:
    if fix.unknown:
        # these lines are shown as they are (they name the configuration tables to write)
        return [[("Unknown whether any call makes every requested diff non-zero:", "bold yellow")]] + [
            [(f"  {line}", "")] for line in fix.explanation
        ]
    if not fix.possible:
        return [[("No call makes every requested diff non-zero:", "bold red")]] + [
            [(f"  {printable(line)}", "")] for line in fix.explanation
        ]
    lines: List[Line] = [[("Fix:", "bold green")]]
    lines.extend([(f"  - {printable(line)}", "")] for line in fix.explanation)
    if fix.add_force_backward:
        lines.append([("  prototxt, top level:  ", ""), ("force_backward: true", "bold")])
    lines.extend([("  ", ""), (printable(line), "bold")] for line in fix.call.splitlines())
    return lines


def main(argv: List[str]) -> int:
    """``backprop-lint backward ...`` (``argv`` starts with ``backward``)."""
    args = read_plainly(argv, "net", OPTIONS, run) or parsed_by_argparse(argv, register)
    return int(args.handler(args))
