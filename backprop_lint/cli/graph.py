"""``backprop-lint graph``: a picture of the net, coloured by what Caffe's backward does.

Every layer is coloured by its backward state (computes gradients and
updates its parameters, passes gradients with frozen parameters, pruned,
cut by propagate_down, aborts, unknown), blobs whose diff stays zero are
marked, the linter's findings sit on their layers. With --start/--end the
pycaffe call net.backward(start=, end=) is drawn as `backprop-lint backward`
explains it: the range highlighted, skipped layers dimmed, --read blobs marked.

The format follows -o: .dot (Graphviz source, needs nothing), .svg or .html
(one self-contained page with a side panel; both need Graphviz's `dot`).
Without -o the DOT text goes to stdout.

Exit status: 0 picture written; 1 the net cannot be read or Caffe refuses it;
2 usage errors or Graphviz missing.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from backprop_lint.backward.plan import DEFAULT_PHASE, plan_backward
from backprop_lint.caffe.model import BackpropLintError
from backprop_lint.cli.arguments import ArgumentParser, RawDescriptionHelpFormatter
from backprop_lint.cli.quickargs import APPEND, FLAG, VALUE, Option, add_option_groups, all_options
from backprop_lint.cli.simulate import BUILD_OPTION, CONFIG_OPTION
from backprop_lint.linting.config import ConfigFinder
from backprop_lint.linting.findings import Finding
from backprop_lint.linting.fix import write_atomically
from backprop_lint.linting.linter import Linter, LintReport, Overrides, StateResult
from backprop_lint.report.graph.dot import to_dot
from backprop_lint.report.graph.html import render_html
from backprop_lint.report.graph.svg import GraphvizFailed, GraphvizMissing, find_dot, render_svg
from backprop_lint.report.graph.view import GraphView, build_view

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Optional, Sequence

    from backprop_lint.cli.quickargs import OptionGroups

FORMATS_BY_SUFFIX = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".html": "html", ".htm": "html"}
EXIT_WRITTEN, EXIT_UNREADABLE, EXIT_USAGE = 0, 1, 2
NON_DEFAULT_PHASE = "TRAIN"  # the phase drawn when no net.backward call is asked for (as `simulate`)


#: graph's options by --help group (None: the parser's own "options")
OPTION_GROUPS: OptionGroups = (
    (None, (
        Option("-o, --output", VALUE, "FILE.svg, FILE.html or FILE.dot (default: DOT on stdout)", metavar="FILE"),
        Option("--splits", FLAG, "show the Split layers Caffe inserts (default: folded into their blob)",
               default=False),
    )),
    ("net state", (
        Option("--phase", VALUE, f"net phase (default: {NON_DEFAULT_PHASE}; {DEFAULT_PHASE} with "
               "--start/--end/--seed/--read, as `backward`)", convert=str.upper, choices=("TRAIN", "TEST")),
        Option("--level", VALUE, "NetState level (default: 0)", convert=int),
        Option("--stage", APPEND, "a NetState stage (repeatable)", metavar="STAGE"),
        Option("--flavor", VALUE, "which Caffe (default: bvlc)", choices=("bvlc", "ssd")),
        BUILD_OPTION,
        Option("--strict", FLAG, "refuse fields the flavour's caffe.proto lacks, as Caffe would"),
        Option("--need-diff", APPEND, "a blob whose gradient you read after backward (repeatable)", metavar="BLOB"),
        CONFIG_OPTION,
    )),
    ("a net.backward(start=, end=) call, as `backprop-lint backward`", (
        Option("--start", VALUE, "net.backward(start=LAYER): a layer name", metavar="LAYER"),
        Option("--end", VALUE, "net.backward(end=LAYER): a layer name", metavar="LAYER"),
        Option("--seed", APPEND, "a blob whose diff you write before the call (repeatable)", default=[],
               metavar="BLOB"),
        Option("--read", APPEND, "a blob whose diff you read after the call (repeatable)", default=[],
               metavar="BLOB"),
    )),
)
OPTIONS = all_options(OPTION_GROUPS)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "graph",
        help="draw the net coloured by what backward does (DOT, SVG or a self-contained HTML page)",
        description=__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("net", help="a .prototxt (text) or binary NetParameter")
    add_option_groups(parser, OPTION_GROUPS)
    parser.set_defaults(handler=run)


def wants_call(args: argparse.Namespace) -> bool:
    return bool(args.start or args.end or args.seed or args.read)


def output_format(output: Optional[str]) -> Optional[str]:
    if output is None:
        return "dot"
    return FORMATS_BY_SUFFIX.get(Path(output).suffix.lower())


def run(args: argparse.Namespace) -> int:
    fmt = output_format(args.output)
    if fmt is None:
        print(f"backprop-lint: error: cannot tell the format of '{args.output}': "
              f"name it FILE.svg, FILE.html or FILE.dot", file=sys.stderr)
        return EXIT_USAGE
    if fmt != "dot" and find_dot() is None:
        print(f"backprop-lint: error: {GraphvizMissing(args.output)}", file=sys.stderr)
        return EXIT_USAGE
    phase = args.phase or (DEFAULT_PHASE if wants_call(args) else NON_DEFAULT_PHASE)
    overrides = Overrides(
        need_diff=tuple(args.need_diff) if args.need_diff else None,
        flavor=args.flavor,
        build=args.build,
        phase=phase,
        level=args.level,
        stages=tuple(args.stage) if args.stage else None,
        strict=args.strict,
    )
    # every finding, whatever `check`'s per-file limit: each one sits on its own layer
    linter = Linter(ConfigFinder(Path(args.config) if args.config else None), overrides, max_findings_per_file=0)
    report = linter.lint_paths([args.net])
    state = _drawable_state(report, args.net)
    if state is None:
        return EXIT_UNREADABLE if not report.internal_errors else EXIT_USAGE
    plan = None
    if wants_call(args):
        config = linter.config_for(Path(args.net))
        try:
            plan = plan_backward(
                args.net, start=args.start, end=args.end, seeds=args.seed, reads=args.read,
                phase=phase, level=config.level, stages=config.stages, flavor=config.flavor,
                strict=config.strict, declared_layers=dict(config.declared_layers) or None, build=config.build,
            )
        except BackpropLintError as error:
            print(f"backprop-lint: {error}", file=sys.stderr)
            return EXIT_UNREADABLE
        for issue in plan.name_issues:
            hint = f" (did you mean '{issue.suggestion}'?)" if issue.suggestion else ""
            print(f"backprop-lint: note: {issue.option}='{issue.given}': {issue.problem}{hint}", file=sys.stderr)
    assert state.simulated is not None
    view = build_view(state.simulated, findings_of(report, state), plan, show_splits=args.splits,
                      state_label=state.state)
    try:
        content = render(view, fmt, args.output or "the picture")
    except (GraphvizMissing, GraphvizFailed) as error:
        print(f"backprop-lint: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.output is None:
        sys.stdout.write(content)
    else:
        write_picture(Path(args.output), content)
    return EXIT_WRITTEN


def write_picture(path: Path, content: str) -> None:
    """Atomically; a new file gets the usual permissions (the umask's), not a temporary file's 0600."""
    existed = path.exists()
    write_atomically(path, content)
    if not existed:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(path, 0o666 & ~umask)


def render(view: GraphView, fmt: str, target: str) -> str:
    if fmt == "dot":
        return to_dot(view)
    svg = render_svg(view, target)
    return svg if fmt == "svg" else render_html(view, svg)


def _drawable_state(report: LintReport, net: str) -> Optional[StateResult]:
    """The one simulated net state to draw, or None after printing why there is none."""
    for file, message in report.internal_errors:
        print(f"backprop-lint: internal error in {file}: {message}", file=sys.stderr)
    if report.internal_errors:
        return None
    for error in report.errors:
        print(f"{error.location}: error: {error.message}", file=sys.stderr)
    if report.errors:
        return None
    if len(report.states) != 1:
        labels = ", ".join(f"{state.file} ({state.state})" for state in report.states)
        print(f"backprop-lint: error: {net} gives {len(report.states)} nets to draw ({labels}): draw one net file "
              f"in one state (--phase, --level, --stage)", file=sys.stderr)
        return None
    state = report.states[0]
    if state.simulated is None:
        refusal = next(iter(state.findings), None)
        where = f"{refusal.location}: " if refusal else ""
        message = refusal.message if refusal else "Caffe refuses this net"
        print(f"{where}error: Caffe refuses this net, so there is nothing to draw: {message}", file=sys.stderr)
        return None
    return state


def findings_of(report: LintReport, state: StateResult) -> List[Finding]:
    """The reported findings that hold in ``state`` of its file."""
    return [
        finding for finding in report.findings
        if finding.location.file == state.file and state.state in finding.state.split(", ")
    ]


# ---------------------------------------------------------------------------
# check --graph DIR
# ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def picture_name(file: str, state: str) -> str:
    """``nets/a.prototxt`` in ``TEST level=1`` -> ``nets__a.TEST_level_1.svg``."""
    stem = Path(file).with_suffix("").as_posix().lstrip("./")
    stem = stem.replace("../", "").replace("/", "__")
    return f"{_UNSAFE.sub('_', stem)}.{_UNSAFE.sub('_', state)}.svg"


def write_check_graphs(report: LintReport, directory: str) -> int:
    """One SVG per linted net state with findings, into ``directory``; the exit status it adds."""
    states = [state for state in report.states if state.simulated is not None and findings_of(report, state)]
    if not states:
        return EXIT_WRITTEN
    if find_dot() is None:
        print(f"backprop-lint: error: {GraphvizMissing(f'pictures in {directory}')}", file=sys.stderr)
        return EXIT_USAGE
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: List[str] = []
    for state in states:
        assert state.simulated is not None
        view = build_view(state.simulated, findings_of(report, state), state_label=state.state)
        path = target / picture_name(state.file, state.state)
        try:
            write_picture(path, render_svg(view, str(path)))
        except GraphvizFailed as error:
            print(f"backprop-lint: error: {state.file} ({state.state}): {error}", file=sys.stderr)
            return EXIT_USAGE
        written.append(str(path))
    print(f"Wrote {len(written)} picture{'s' if len(written) != 1 else ''} to {directory}.", file=sys.stderr)
    return EXIT_WRITTEN


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args))
