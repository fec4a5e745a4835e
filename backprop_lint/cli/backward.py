"""``backprop-lint backward``: what pycaffe's ``net.backward(start=..., end=...)`` will do.

Exit status: 0 every requested diff is non-zero, 1 some is zero (or no layer
of the range runs, or nothing is read, or a name is wrong, or Caffe would
refuse the net), 2 usage errors.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional, TextIO

from rich.console import Console
from rich.markup import escape

from backprop_lint.backward.plan import DEFAULT_PHASE, BackwardPlan, CallFix, plan_backward
from backprop_lint.cli.simulate import (
    add_config_argument,
    add_state_arguments,
    build_from,
    declared_layers_from,
    packs_from,
    write_json,
)
from backprop_lint.caffe.model import InputError, NetRefused
from backprop_lint.caffe.pipeline import error_to_json
from backprop_lint.report.escape import printable


DESCRIPTION = """\
Replays caffe.Net(NET, caffe.TEST) followed by net.backward(start=START, end=END),
with the diffs of the --seed blobs written by hand, and says for every --read
blob whether its diff will be non-zero, why not, and which call fixes it.

exit status: 0 every requested diff is non-zero; 1 some diff stays zero, no
layer of the range runs, nothing is read, a name is wrong, or Caffe would
refuse the net; 2 usage errors.
"""


def shown(text: str) -> str:
    """Text from the net, safe for the terminal (control characters escaped) and for rich markup."""
    return escape(printable(text))


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "backward",
        help="explain pycaffe's net.backward(start=..., end=...) on a net: which diffs stay zero and why",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt (the deploy net you load in pycaffe)")
    parser.add_argument("--start", metavar="LAYER", help="net.backward(start=LAYER): a layer name")
    parser.add_argument("--end", metavar="LAYER", help="net.backward(end=LAYER): a layer name")
    parser.add_argument("--seed", action="append", default=[], metavar="BLOB",
                        help="a blob whose diff you write before the call (repeatable; "
                             "default for a net with no loss: every net output)")
    parser.add_argument("--read", action="append", default=[], metavar="BLOB",
                        help="a blob whose diff you read after the call (repeatable; "
                             "default: the keys net.backward returns)")
    add_state_arguments(parser, default_phase=DEFAULT_PHASE)
    add_config_argument(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
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
            declared_layers=declared_layers_from(args.config),
            packs=packs_from(args),
            build=build_from(args.config, args.build),
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
    console = Console(file=stream, highlight=False, soft_wrap=True)
    call = plan.user_call()
    console.print(f"[bold]{shown(plan.file)}[/] ({shown(plan.net_name or 'unnamed')}), phase {plan.phase}, "
                  f"force_backward: {'true' if plan.force_backward else 'false'}")
    console.print(f"  {shown(call)}")
    for issue in plan.name_issues:
        style = "red" if issue.fatal else "yellow"
        hint = f" → use [bold]{shown(repr(issue.suggestion))}[/]" if issue.suggestion else ""
        console.print(f"[{style}]{issue.option}=[/] {shown(issue.problem)}{hint}")
    console.print()
    console.print(f"[bold]Layers #{plan.start_index} down to #{plan.end_index}[/] (BackwardFromTo order):")
    step_lines = []
    for step in plan.steps:
        mark = {True: "[green]runs   [/]", False: "[red]skipped[/]", None: "[yellow]unknown[/]"}[step.runs]
        why = step.why.replace("skipped: ", "").replace("runs backward", "").strip()
        why = f"  {shown(why)}" if why else ""
        step_lines.append(f"  {mark} #{step.index:<3} {shown(step.name)} ({shown(step.type)}){why}")
    if not step_lines:
        console.print("  (none: start comes before end)")
    else:
        if plan.runs_nothing:
            step_lines.append("  [red](no layer of the range runs backward: the call changes no diff)[/]")
        console.print("\n".join(step_lines))  # one print: rich's per-call cost is large on long nets
    console.print()
    console.print(f"[bold]Gradient sources:[/] {shown(', '.join(plan.seeds + plan.loss_blobs) or 'none')}")
    for seed_note in plan.seed_notes:
        console.print(f"  [red]seed '{shown(seed_note.blob)}':[/] {shown(seed_note.message)}")
    console.print("[bold]Diffs you read:[/]" + (" [red](none)[/]" if not plan.reads else ""))
    for read in plan.reads:
        verdict = {True: "[green]non-zero[/]", False: "[red]ZERO[/]", None: "[yellow]unknown[/]"}[read.nonzero]
        console.print(f"  {shown(read.blob)}: {verdict}")
        for reason in read.reasons:
            console.print(f"      {shown(reason)}")
    console.print(f"[bold]net.backward returns:[/] {shown(', '.join(plan.returned_keys) or '{}')}")
    console.print()
    for note in plan.notes:
        console.print(f"[dim]note:[/] {shown(note)}")
    if plan.fix is not None:
        console.print()
        _render_fix(console, plan.fix)


def _render_fix(console: Console, fix: CallFix) -> None:
    if fix.unknown:
        console.print("[bold yellow]Unknown whether any call makes every requested diff non-zero:[/]")
        for line in fix.explanation:
            console.print(f"  {escape(line)}")
        return
    if not fix.possible:
        console.print("[bold red]No call makes every requested diff non-zero:[/]")
        for line in fix.explanation:
            console.print(f"  {shown(line)}")
        return
    console.print("[bold green]Fix:[/]")
    for line in fix.explanation:
        console.print(f"  - {shown(line)}")
    if fix.add_force_backward:
        console.print("  prototxt, top level:  [bold]force_backward: true[/]")
    for line in fix.call.splitlines():
        console.print(f"  [bold]{shown(line)}[/]")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
