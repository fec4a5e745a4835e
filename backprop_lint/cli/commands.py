"""The ``backprop-lint`` command.

Subcommands: ``check`` (the default when the first argument is a path or an
option), ``explain CODE``, ``rules``, plus the commands registered by the
modules in ``COMMAND_MODULES`` (each has ``register(subparsers)`` that sets
``handler`` on its parser).

Exit status: 0 when nothing fails, 1 when a shown finding is at or above
``--fail-on`` (default ``warning``; ``--severity`` only chooses what is shown)
or an input cannot be read, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, TextIO

from backprop_lint._version import __version__
from backprop_lint.cli.guard import guarded
from backprop_lint.cli.simulate import add_pack_argument
from backprop_lint.linting.config import CODE_PREFIX, ConfigError, ConfigFinder
from backprop_lint.linting.fix import plan_fixes, unified_diff, write_atomically
from backprop_lint.linting.linter import (
    MAX_FINDINGS_PER_FILE,
    Linter,
    LintReport,
    Overrides,
    rule_catalogue,
    rule_doc_path,
)
from backprop_lint.linting.findings import SEVERITIES, Finding
from backprop_lint.report import FORMATS

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

#: modules (owned elsewhere) that add subcommands; a missing one is skipped
COMMAND_MODULES = (
    "backprop_lint.cli.simulate",
    "backprop_lint.cli.backward",
    "backprop_lint.cli.verify",
    "backprop_lint.cli.graph",
    "backprop_lint.cli.packs",
)
OWN_COMMANDS = ("check", "explain", "rules")
PROGRESS_MIN_FILES = 10
MAX_FIX_PASSES = 10


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backprop-lint",
        description="Tells you, before you run Caffe, which layers and blobs will get no gradient, why, "
        "and what to change.",
        epilog="`backprop-lint PATH...` is short for `backprop-lint check PATH...`.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-lint {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_check(subparsers)
    register_explain(subparsers)
    register_rules(subparsers)
    for module_name in COMMAND_MODULES:
        register_external(subparsers, module_name)
    return parser


def register_external(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]", module_name: str) -> None:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            return
        raise
    module.register(subparsers)


def _codes(value: str) -> List[str]:
    codes = [code.strip().upper() for code in value.split(",") if code.strip()]
    for code in codes:
        if not CODE_PREFIX.match(code):
            raise argparse.ArgumentTypeError(f"'{code}' is not a rule code or prefix (like BL101, BL1 or ALL)")
    return codes


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a count (a whole number, 0 or more)")
    return number


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _jobs(value: str) -> int:
    number = _count(value)
    if number == 0:
        raise argparse.ArgumentTypeError("'0' processes cannot lint anything: give 1 or more")
    return number


def register_check(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "check",
        help="lint nets, solvers and directories (the default command)",
        description="Lint Caffe nets (.prototxt, .pbtxt, binary .caffemodel), solver prototxts (their nets are "
        "linted in the solver's train/test states) and directories (searched for *.prototxt and "
        "*.pbtxt). Without --phase, both TRAIN and TEST are linted.",
    )
    parser.add_argument("paths", nargs="*", default=["."], metavar="PATH", help="files or directories (default: .)")
    state = parser.add_argument_group("net state")
    state.add_argument("--phase", choices=("TRAIN", "TEST"), type=str.upper, help="lint only this phase")
    state.add_argument("--level", type=int, help="NetState level (default: 0)")
    state.add_argument("--stage", action="append", metavar="STAGE", help="a NetState stage (repeatable)")
    state.add_argument("--flavor", choices=("bvlc", "ssd"), help="which Caffe (default: bvlc)")
    add_pack_argument(state)
    state.add_argument(
        "--strict",
        action="store_true",
        default=None,
        help="refuse fields the flavour's caffe.proto lacks, as Caffe would",
    )
    state.add_argument(
        "--need-diff",
        action="append",
        metavar="BLOB",
        help="a blob whose gradient you read after backward (repeatable)",
    )
    selection = parser.add_argument_group("selection")
    selection.add_argument(
        "--config", type=Path, metavar="FILE", help="a pyproject.toml or backprop-lint.toml to use instead of discovery"
    )
    selection.add_argument(
        "--select",
        type=_codes,
        action="append",
        metavar="CODES",
        help="only these codes or prefixes, comma-separated (replaces `select`)",
    )
    selection.add_argument(
        "--ignore",
        type=_codes,
        action="append",
        metavar="CODES",
        help="also ignore these codes or prefixes, comma-separated",
    )
    selection.add_argument(
        "--severity", choices=SEVERITIES, help="show findings at or above this (default: info; config `severity-threshold`)"
    )
    selection.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        help="exit 1 when a shown finding is at or above this (default: warning; config `fail-on`)",
    )
    output = parser.add_argument_group("output")
    output.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    output.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour in text output (auto: on a terminal without NO_COLOR)",
    )
    output.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    output.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=default_jobs(),
        metavar="N",
        help=f"lint N nets at a time, in separate processes (default: the machine's cores, here {default_jobs()}); "
             "the output is the same for every N",
    )
    output.add_argument(
        "--max-findings-per-file",
        type=_count,
        default=MAX_FINDINGS_PER_FILE,
        metavar="N",
        help=f"report at most N findings per file, the most severe first (default: {MAX_FINDINGS_PER_FILE}; 0: all)",
    )
    output.add_argument("--graph", metavar="DIR", help="also draw each net state with findings as DIR/<net>.<state>.svg")
    fixing = parser.add_argument_group("fixing")
    fixing.add_argument("--fix", action="store_true", help="apply safe fixes in place, then report what is left")
    fixing.add_argument("--diff", action="store_true", help="print the safe fixes as a unified diff; write nothing")
    parser.set_defaults(handler=run_check)


def register_explain(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("explain", help="print a rule's page", description="Print a rule's documentation.")
    parser.add_argument("code", type=str.upper, help="a rule code, e.g. BL201 (or its name)")
    parser.set_defaults(handler=run_explain)


def register_rules(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser("rules", help="list every rule", description="List the rule catalogue.")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.set_defaults(handler=run_rules)


def with_default_command(argv: Sequence[str], commands: Sequence[str]) -> List[str]:
    """Insert ``check`` unless the first argument names a command (or asks for help/version)."""
    args = list(argv)
    if not args:
        return args
    first = args[0]
    if first in commands or first in ("-h", "--help", "--version"):
        return args
    return ["check", *args]


# ---------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------


def overrides_from(args: argparse.Namespace) -> Overrides:
    return Overrides(
        select=tuple(code for group in args.select for code in group) if args.select else None,
        extend_ignore=tuple(code for group in args.ignore for code in group) if args.ignore else (),
        severity_threshold=args.severity,
        fail_on=args.fail_on,
        need_diff=tuple(args.need_diff) if args.need_diff else None,
        flavor=args.flavor,
        phase=args.phase,
        level=args.level,
        stages=tuple(args.stage) if args.stage else None,
        strict=args.strict,
        extend_packs=tuple(args.pack or ()),
    )


def run_check(args: argparse.Namespace) -> int:
    # --graph draws the simulated nets, which forked workers do not send back: one process then
    jobs = 1 if args.graph else args.jobs
    linter = Linter(ConfigFinder(args.config), overrides_from(args), args.max_findings_per_file, jobs)
    if args.fix or args.diff:
        return run_fix(args, linter)
    report = lint_with_progress(linter, args.paths, show=not args.no_progress)
    render(report, args.format, sys.stdout, color=color_choice(args.color))
    if args.graph:
        from backprop_lint.cli.graph import write_check_graphs

        if write_check_graphs(report, args.graph) != EXIT_CLEAN:
            return EXIT_ERROR
    return exit_status(report, args.exit_zero)


def exit_status(report: LintReport, exit_zero: bool) -> int:
    if report.internal_errors:
        return EXIT_ERROR
    if report.fails and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def color_choice(choice: str) -> Optional[bool]:
    return {"auto": None, "always": True, "never": False}[choice]


def render(report: LintReport, fmt: str, stream: TextIO, *, color: Optional[bool] = None) -> None:
    if fmt == "text":
        from backprop_lint.report import text

        text.render(report, stream, color=color)
    elif fmt == "json":
        from backprop_lint.report import json_output

        json_output.render(report, stream)
    elif fmt == "sarif":
        from backprop_lint.report import sarif

        sarif.render(report, stream)
    else:
        from backprop_lint.report import github

        github.render(report, stream)


def lint_with_progress(linter: Linter, paths: Sequence[str], *, show: bool) -> LintReport:
    if not show or not sys.stderr.isatty():
        return linter.lint_paths(paths)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=Console(file=sys.stderr),
        transient=True,
    )
    task = None

    def advance(file: str, index: int, total: int) -> None:
        nonlocal task
        if total <= PROGRESS_MIN_FILES:
            return
        if task is None:
            progress.start()
            task = progress.add_task(file, total=total)
        progress.update(task, completed=index, description=file)

    try:
        return linter.lint_paths(paths, progress=advance)
    finally:
        progress.stop()


def run_fix(args: argparse.Namespace, linter: Linter) -> int:
    """--fix / --diff: apply safe fixes (re-linting between passes), then report what is left."""
    report = lint_with_progress(linter, args.paths, show=not args.no_progress)
    originals: Dict[str, str] = {}
    current: Dict[str, str] = {}
    fixed_count = 0
    refused: Dict[tuple, str] = {}
    for _ in range(MAX_FIX_PASSES):
        applied_this_pass = 0
        for file, findings in findings_by_file(report).items():
            text = current.get(file, report.sources.get(file))
            if text is None:
                continue
            plan = plan_fixes(text, file, findings)
            for finding, reason in plan.refused:
                refused[(finding.location, finding.code, finding.message)] = reason_line(finding, reason)
            if plan.new_text != text:
                originals.setdefault(file, text)
                current[file] = plan.new_text
                applied_this_pass += len(plan.applied)
        fixed_count += applied_this_pass
        if not applied_this_pass:
            break
        report = relint_texts(linter, args.paths, current, write=not args.diff)
    refusal_lines = [
        refused[key] for key in sorted(refused, key=lambda key: (key[0].file, key[0].line, key[0].col, key[1]))
    ]
    if args.diff:
        for file in sorted(current):
            sys.stdout.write(unified_diff(file, originals[file], current[file]))
        for line in refusal_lines:
            print(line, file=sys.stderr)
        return EXIT_FINDINGS if current and not args.exit_zero else EXIT_CLEAN
    for line in refusal_lines:
        print(line, file=sys.stderr)
    if fixed_count:
        files = len(current)
        print(
            f"Fixed {fixed_count} problem{'s' if fixed_count != 1 else ''} in {files} file{'s' if files != 1 else ''}.",
            file=sys.stderr,
        )
    render(report, args.format, sys.stdout, color=color_choice(args.color))
    return exit_status(report, args.exit_zero)


def reason_line(finding: Finding, reason: str) -> str:
    return f"{finding.location}: {finding.code} not fixed: {reason}"


def findings_by_file(report: LintReport) -> Dict[str, List[Finding]]:
    grouped: Dict[str, List[Finding]] = {}
    for finding in report.findings:
        if finding.fix is not None:
            grouped.setdefault(finding.location.file, []).append(finding)
    return grouped


def relint_texts(linter: Linter, paths: Sequence[str], texts: Dict[str, str], *, write: bool) -> LintReport:
    """Lint again after a fixing pass, with the fixed texts in memory; ``write`` saves them too."""
    if write:
        for file, text in texts.items():
            write_atomically(Path(file), text)
    linter.replacement_texts = dict(texts)
    return linter.lint_paths(paths)


# ---------------------------------------------------------------------------
# explain / rules
# ---------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    wanted = args.code.upper()
    rule = next((r for r in rule_catalogue() if r.code == wanted or r.name.upper() == wanted), None)
    if rule is None:
        print(f"backprop-lint: error: no rule {args.code!r} (see `backprop-lint rules`)", file=sys.stderr)
        return EXIT_ERROR
    page = rule_doc_path(rule.code)
    markdown = page.read_text(encoding="utf-8") if page else f"# {rule.code} {rule.name}\n\n{rule.summary}\n"
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.console import Console
        from rich.markdown import Markdown

        Console().print(Markdown(markdown))
    else:
        sys.stdout.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return EXIT_CLEAN


def run_rules(args: argparse.Namespace) -> int:
    catalogue = rule_catalogue()
    if args.format == "json":
        rows = [{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary} for r in catalogue]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_CLEAN
    if not sys.stdout.isatty():
        name_width = max(len(rule.name) for rule in catalogue)
        for rule in catalogue:
            print(f"{rule.code}  {rule.name:<{name_width}}  {rule.severity:<7}  {rule.summary}")
        return EXIT_CLEAN
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for column in ("code", "name", "severity", "summary"):
        table.add_column(column, overflow="fold")
    for rule in catalogue:
        table.add_row(rule.code, rule.name, rule.severity, rule.summary)
    Console(highlight=False).print(table)
    return EXIT_CLEAN


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    commands = list(_subcommand_names(parser))
    args = parser.parse_args(with_default_command(sys.argv[1:] if argv is None else argv, commands))
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    return guarded(lambda: _run_handler(args))


def _run_handler(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except ConfigError as err:
        print(f"backprop-lint: {err}", file=sys.stderr)
        return EXIT_ERROR


def _subcommand_names(parser: argparse.ArgumentParser) -> Iterator[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices




if __name__ == "__main__":
    raise SystemExit(main())
