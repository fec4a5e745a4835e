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

import io
import os
import sys

from backprop_lint._version import __version__
from backprop_lint.caffe import text_bytes
from backprop_lint.cli.guard import guarded
from backprop_lint.cli.quickargs import (
    APPEND,
    FLAG,
    VALUE,
    Option,
    Positionals,
    add_option_groups,
    all_options,
    read_plainly,
)
from backprop_lint.cli.simulate import BUILD_OPTION, PACK_OPTION
from backprop_lint.linting.config import ConfigError, ConfigFinder, unknown_code_problem
from backprop_lint.linting.linter import (
    MAX_FINDINGS_PER_FILE,
    Linter,
    LintReport,
    Overrides,
    path_text,
    rule_catalogue,
    rule_doc_path,
)
from backprop_lint.linting.findings import SEVERITIES, UNUSED_SUPPRESSION_CODE, Finding
from backprop_lint.report import FORMATS
from backprop_lint.report.escape import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Dict, Iterator, List, Optional, Sequence, TextIO

    from backprop_lint.cli.quickargs import OptionGroups

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
#: the command each of COMMAND_MODULES adds, in order (a test checks it): a `check`
#: command line is parsed without importing those modules (a third of its start-up)
EXTERNAL_COMMANDS = ("simulate", "backward", "verify", "graph", "packs")
PROGRESS_MIN_FILES = 10
MAX_FIX_PASSES = 10


# ---------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------


def build_parser(check_only: bool = False) -> argparse.ArgumentParser:
    """The whole command line; ``check_only``: the same parser for a command line that starts with ``check``."""
    from backprop_lint.cli.arguments import ArgumentParser

    parser = ArgumentParser(
        prog="backprop-lint",
        description="Tells you, before you run Caffe, which layers and blobs will get no gradient, why, "
        "and what to change.",
        epilog="`backprop-lint PATH...` is short for `backprop-lint check PATH...`.",
    )
    parser.add_argument("--version", action="version", version=f"backprop-lint {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_check(subparsers)
    if check_only:
        return parser
    register_explain(subparsers)
    register_rules(subparsers)
    for module_name in COMMAND_MODULES:
        register_external(subparsers, module_name)
    return parser


def register_external(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]", module_name: str) -> None:
    import importlib  # every command line but a `check`'s

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name == module_name:
            return
        raise
    module.register(subparsers)


def path_argument(value: str) -> Path:
    """A file option's value (``--config``, ``-o``...): pathlib is imported only when one is given."""
    from pathlib import Path

    return Path(value)


def _codes(value: str) -> List[str]:
    codes = [code.strip().upper() for code in value.split(",") if code.strip()]
    for code in codes:
        problem = unknown_code_problem(code)
        if problem:
            import argparse

            raise argparse.ArgumentTypeError(problem)
    return codes


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        import argparse

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
        import argparse

        raise argparse.ArgumentTypeError("'0' processes cannot lint anything: give 1 or more")
    return number


#: ``check``'s options by --help group (None: the parser's own "options"), in the order they are added
CHECK_OPTION_GROUPS: OptionGroups = (
    ("net state", (
        Option("--phase", VALUE, "lint only this phase", convert=str.upper, choices=("TRAIN", "TEST")),
        Option("--level", VALUE, "NetState level (default: 0)", convert=int),
        Option("--stage", APPEND, "a NetState stage (repeatable)", metavar="STAGE"),
        Option("--flavor", VALUE, "which Caffe (default: bvlc)", choices=("bvlc", "ssd")),
        PACK_OPTION,
        BUILD_OPTION,
        Option("--strict", FLAG, "refuse fields the flavour's caffe.proto lacks, as Caffe would"),
        Option("--need-diff", APPEND, "a blob whose gradient you read after backward (repeatable)", metavar="BLOB"),
    )),
    ("selection", (
        Option("--config", VALUE, "a pyproject.toml or backprop-lint.toml to use instead of discovery",
               convert=path_argument, metavar="FILE"),
        Option("--select", APPEND, "only these codes or prefixes, comma-separated (replaces `select`)",
               convert=_codes, metavar="CODES"),
        Option("--ignore", APPEND, "also ignore these codes or prefixes, comma-separated", convert=_codes,
               metavar="CODES"),
        Option("--severity", VALUE, "show findings at or above this (default: info; config `severity-threshold`)",
               choices=SEVERITIES),
        Option("--fail-on", VALUE, "exit 1 when a shown finding is at or above this (default: warning; config "
               "`fail-on`)", choices=SEVERITIES),
    )),
    ("output", (
        Option("--format", VALUE, "output format (default: text)", default="text", choices=FORMATS),
        Option("--color", VALUE, "colour in text output (auto: on a terminal without NO_COLOR)", default="auto",
               choices=("auto", "always", "never")),
        Option("--exit-zero", FLAG, "exit 0 even when there are findings", default=False),
        Option("--no-progress", FLAG, "never show a progress bar", default=False),
    )),
    (None, (
        Option("--jobs, -j", VALUE, f"lint N nets at a time, in separate processes (default: the machine's cores, "
               f"here {default_jobs()}); the output is the same for every N", default=default_jobs(), convert=_jobs,
               metavar="N"),
    )),
    ("output", (
        Option("--max-findings-per-file", VALUE, "report at most N findings per file, the most severe first "
               f"(default: {MAX_FINDINGS_PER_FILE}; 0: all)", default=MAX_FINDINGS_PER_FILE, convert=_count,
               metavar="N"),
        Option("--graph", VALUE, "also draw each net state with findings as DIR/<net>.<state>.svg", metavar="DIR"),
        Option("--statistics", FLAG, "print how many findings each code has instead of the findings", default=False),
        Option("-q, --quiet", FLAG, "print the findings and nothing else (no summary, no notes)", default=False),
        Option("-o, --output-file", VALUE, "write the report to FILE (atomically) instead of stdout",
               convert=path_argument, metavar="FILE"),
        Option("--stdin-filename", VALUE, "the name of the net read from stdin (`-`): shown in findings and used "
               "to find its configuration", metavar="PATH"),
    )),
    ("adopting on an existing model zoo", (
        Option("--add-suppressions, --add-noqa", FLAG, "add a `# backprop-lint: disable=` comment for every "
               "current finding, then exit", default=False),
        Option("--baseline", VALUE, "hide the findings recorded in FILE; report only new ones",
               convert=path_argument, metavar="FILE"),
        Option("--write-baseline", VALUE, "record every current finding in FILE (JSON) for --baseline, then exit",
               convert=path_argument, metavar="FILE"),
    )),
    ("fixing", (
        Option("--fix", FLAG, "apply safe fixes in place, then report what is left", default=False),
        Option("--diff", FLAG, "print the safe fixes as a unified diff; write nothing", default=False),
        Option("--force", FLAG, "with --fix or --add-suppressions: also rewrite read-only files, and write in "
               "place (through every hard link, keeping the owner) a file that cannot be replaced without losing "
               "them", default=False),
    )),
)
CHECK_OPTIONS = all_options(CHECK_OPTION_GROUPS)
CHECK_PATHS = Positionals("paths", ["."])


def register_check(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "check",
        help="lint nets, solvers and directories (the default command)",
        description="Lint Caffe nets (.prototxt, .pbtxt, binary .caffemodel), solver prototxts (their nets are "
        "linted in the solver's train/test states) and directories (searched for *.prototxt and "
        "*.pbtxt). Without --phase, both TRAIN and TEST are linted.",
    )
    parser.add_argument(
        "paths", nargs="*", default=CHECK_PATHS.default, metavar="PATH",
        help="files or directories, `-` for stdin (default: .)",
    )
    add_option_groups(parser, CHECK_OPTION_GROUPS)
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
        build=args.build,
        phase=args.phase,
        level=args.level,
        stages=tuple(args.stage) if args.stage else None,
        strict=args.strict,
        extend_packs=tuple(args.pack or ()),
    )


def run_check(args: argparse.Namespace) -> int:
    problem = incompatible_options(args)
    if problem:
        print(f"backprop-lint: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    # suppressions, baselines and statistics need every finding; a baseline hides before the limit applies
    sees_everything = args.add_suppressions or args.write_baseline or args.statistics or args.baseline
    limit = 0 if sees_everything else args.max_findings_per_file
    # --graph draws the simulated nets, which forked workers do not send back: one process then
    jobs = 1 if args.graph else args.jobs
    linter = Linter(ConfigFinder(args.config), overrides_from(args), limit, jobs)
    linter.keep_simulated = bool(args.graph)  # only --graph draws them
    linter.keep_snapshots = bool(args.fix or args.add_suppressions)  # what writes the nets back
    if "-" in args.paths:
        stdin_name = path_text(args.stdin_filename) if args.stdin_filename else STDIN_NAME
        linter.stdin = (stdin_name, sys.stdin.buffer.read())
    if args.fix or args.diff:
        return run_fix(args, linter)
    report = lint_with_progress(linter, args.paths, show=not args.no_progress and not args.quiet)
    if args.add_suppressions:
        return run_add_suppressions(args, linter, report)
    if args.write_baseline:
        return run_write_baseline(args, report)
    hidden = 0
    if args.baseline:
        hidden = hide_baselined(report, args.baseline)
        if not args.statistics:
            linter.max_findings_per_file = args.max_findings_per_file
            linter.limit_findings(report)
    output = io.StringIO()
    if args.statistics:
        render_statistics(report, args.format, output)
    else:
        render(report, args.format, output, color=output_color(args), quiet=args.quiet)
    if hidden and not args.quiet:
        print(f"{hidden} finding{'s' if hidden != 1 else ''} hidden by the baseline {args.baseline}.", file=sys.stderr)
    write_output(output.getvalue(), args.output_file)
    if args.graph:
        from backprop_lint.cli.graph import write_check_graphs

        if write_check_graphs(report, args.graph) != EXIT_CLEAN:
            return EXIT_ERROR
    return exit_status(report, args.exit_zero)


STDIN_NAME = "<stdin>"


class OutputError(Exception):
    """A report or baseline cannot be written; shown as one line, exit status 2."""


def incompatible_options(args: argparse.Namespace) -> Optional[str]:
    """Why this combination of options makes no sense (None when it does)."""
    if "-" in args.paths:
        for option, given in (
            ("--fix", args.fix),
            ("--diff", args.diff),
            ("--add-suppressions", args.add_suppressions),
        ):
            if given:
                return f"{option} changes files and cannot change stdin (`-`); give the file's path instead"
        if args.paths.count("-") > 1:
            return "stdin (`-`) can be read only once"
    elif args.stdin_filename:
        return "--stdin-filename names the net read from stdin: add `-` to the paths"
    modes = [name for name, given in (
        ("--fix", args.fix), ("--diff", args.diff), ("--add-suppressions", args.add_suppressions),
        ("--write-baseline", args.write_baseline), ("--statistics", args.statistics),
    ) if given]
    if len(modes) > 1 and modes != ["--fix", "--diff"]:
        return f"{' and '.join(modes)} cannot be combined"
    return None


def output_color(args: argparse.Namespace) -> Optional[bool]:
    """Colour only for a terminal: a report written to --output-file never gets escape codes."""
    return False if args.output_file else color_choice(args.color)


def write_output(text: str, output_file: Optional[Path]) -> None:
    """The report on stdout, or into ``output_file`` in one rename (never half-written).

    Bytes of the net that were not UTF-8 are shown as ``\\xNN`` (text_bytes.py), in JSON too.
    """
    text = text_bytes.printable(text_bytes.printable_json(text))
    if output_file is None:
        sys.stdout.write(text)
        return
    from backprop_lint.linting import fix  # the write and fix paths only: a plain check never loads it

    try:
        fix.write_atomically(output_file, text)
    except OSError as err:
        raise OutputError(f"{output_file}: error: cannot write the report: {err.strerror or err}") from None


def hide_baselined(report: LintReport, baseline: Path) -> int:
    """Drop the findings the baseline records from ``report``; how many were hidden."""
    from backprop_lint.linting.baseline import apply_baseline, load_baseline

    recorded = load_baseline(baseline)
    findings = apply_baseline(report.findings, recorded, baseline, report.files)
    errors = apply_baseline(report.errors, recorded, baseline, report.files)
    report.findings = findings.kept
    report.errors = errors.kept
    hidden = {id(finding) for finding in findings.hidden}
    report.failing = [finding for finding in report.failing if id(finding) not in hidden]
    return len(findings.hidden) + len(errors.hidden)


def run_write_baseline(args: argparse.Namespace, report: LintReport) -> int:
    from backprop_lint.linting import fix  # the write and fix paths only: a plain check never loads it
    from backprop_lint.linting.baseline import baseline_text

    path: Path = args.write_baseline
    try:
        fix.write_atomically(path, baseline_text(report.all_findings, path))
    except OSError as err:
        raise OutputError(f"{path}: error: cannot write the baseline: {err.strerror or err}") from None
    count = len(report.all_findings)
    if not args.quiet:
        print(
            f"Recorded {count} finding{'s' if count != 1 else ''} in {path}; "
            f"`backprop-lint check --baseline {path}` now reports only new ones.",
            file=sys.stderr,
        )
    return EXIT_ERROR if report.internal_errors else EXIT_CLEAN


def run_add_suppressions(args: argparse.Namespace, linter: Linter, report: LintReport) -> int:
    """Write a suppression for every finding, then check that each one now silences its finding."""
    from backprop_lint.linting.suppress import add_suppressions

    texts: Dict[str, str] = {}
    added_in: Dict[str, int] = {}
    for file, findings in group_by_file(report.findings).items():
        text = report.sources.get(file)
        if text is None:  # a binary net: no comment can go into it
            continue
        result = add_suppressions(text, findings)
        if result.new_text != text:
            texts[file] = result.new_text
            added_in[file] = result.added
    # written as --fix writes: read-only files, hard links and files changed meanwhile are refused
    unwritten = write_fixed_files(texts, linter, force=args.force)
    for file in unwritten:
        del texts[file]
    added = sum(added_in[file] for file in texts)
    linter.replacement_texts = dict(texts)
    after = linter.lint_paths(args.paths) if texts else report
    left = [finding for finding in after.all_findings if finding.code != UNUSED_SUPPRESSION_CODE]
    if not args.quiet:
        files = len(texts)
        print(
            f"Added {added} suppression{'s' if added != 1 else ''} in {files} file{'s' if files != 1 else ''}.",
            file=sys.stderr,
        )
        for finding in left:
            print(printable(f"{finding.location}: {finding.code} not suppressed: {finding.message}"), file=sys.stderr)
    if after.internal_errors:
        return EXIT_ERROR
    if unwritten:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if after.fails and not args.exit_zero else EXIT_CLEAN


def group_by_file(findings: Sequence[Finding]) -> Dict[str, List[Finding]]:
    grouped: Dict[str, List[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.location.file, []).append(finding)
    return grouped


def render_statistics(report: LintReport, fmt: str, stream: TextIO) -> None:
    from backprop_lint.report import statistics

    statistics.render(report, stream, as_json=fmt == "json")


def exit_status(report: LintReport, exit_zero: bool) -> int:
    if report.internal_errors:
        return EXIT_ERROR
    if report.fails and not exit_zero:
        return EXIT_FINDINGS
    return EXIT_CLEAN


def color_choice(choice: str) -> Optional[bool]:
    return {"auto": None, "always": True, "never": False}[choice]


def render(report: LintReport, fmt: str, stream: TextIO, *, color: Optional[bool] = None, quiet: bool = False) -> None:
    if fmt == "text":
        from backprop_lint.report import text

        text.render(report, stream, color=color, show_summary=not quiet)
    elif fmt == "concise":
        from backprop_lint.report import concise

        concise.render(report, stream)
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
    """--fix / --diff: apply safe fixes (re-linting between passes, in memory), write once, report what is left."""
    from backprop_lint.linting import fix  # the write and fix paths only: a plain check never loads it

    report = lint_with_progress(linter, args.paths, show=not args.no_progress and not args.quiet)
    originals: Dict[str, str] = {}
    current: Dict[str, str] = {}
    fixed_by_file: Dict[str, int] = {}
    refused: Dict[tuple, str] = {}
    for _ in range(MAX_FIX_PASSES):
        applied_this_pass = 0
        for file, findings in findings_by_file(report).items():
            text = current.get(file, report.sources.get(file))
            if text is None:
                continue
            plan = fix.plan_fixes(text, file, findings)
            for finding, reason in plan.refused:
                refused[(finding.location, finding.code, finding.message)] = reason_line(finding, reason)
            if plan.new_text != text:
                originals.setdefault(file, text)
                current[file] = plan.new_text
                fixed_by_file[file] = fixed_by_file.get(file, 0) + len(plan.applied)
                applied_this_pass += len(plan.applied)
        if not applied_this_pass:
            break
        report = relint_texts(linter, args.paths, current)
    refusal_lines = [
        refused[key] for key in sorted(refused, key=lambda key: (key[0].file, key[0].line, key[0].col, key[1]))
    ]
    if args.diff:
        diff = "".join(fix.unified_diff(file, originals[file], current[file]) for file in sorted(current))
        write_output(diff, args.output_file)
        for line in refusal_lines:
            print(printable(line), file=sys.stderr)
        if not args.quiet:
            report_what_diff_leaves(report, bool(current))
        if report.internal_errors:
            return EXIT_ERROR
        changed_or_left = bool(current) or report.fails
        return EXIT_FINDINGS if changed_or_left and not args.exit_zero else EXIT_CLEAN
    for line in refusal_lines:
        print(printable(line), file=sys.stderr)
    unwritten = write_fixed_files(current, linter, force=args.force)
    if unwritten:  # report those files as they still are on disk
        for file in unwritten:
            del current[file]
        report = relint_texts(linter, args.paths, current)
    fixed_count = sum(fixed_by_file[file] for file in current)
    if fixed_count and not args.quiet:
        files = len(current)
        print(
            f"Fixed {fixed_count} problem{'s' if fixed_count != 1 else ''} in {files} file{'s' if files != 1 else ''}.",
            file=sys.stderr,
        )
    output = io.StringIO()
    render(report, args.format, output, color=output_color(args), quiet=args.quiet)
    write_output(output.getvalue(), args.output_file)
    status = exit_status(report, args.exit_zero)
    return max(status, EXIT_FINDINGS) if unwritten else status


def write_fixed_files(texts: Dict[str, str], linter: Linter, *, force: bool) -> List[str]:
    """Write each fixed text over its file; the files left unwritten, each with its one-line reason on stderr."""
    from backprop_lint.linting import fix  # the write and fix paths only: a plain check never loads it

    unwritten = []
    for file in sorted(texts):
        try:
            note = fix.write_fixed_file(path_argument(file), texts[file], linter.snapshots.get(file), force=force)
        except fix.UnsafeWrite as refusal:
            print(printable(f"{file}: error: not fixed: {refusal.message}"), file=sys.stderr)
            unwritten.append(file)
            continue
        if note:
            print(printable(f"note: {note}"), file=sys.stderr)
    return unwritten


def report_what_diff_leaves(report: LintReport, changed: bool) -> None:
    """--diff prints only changes: say on stderr what no fix changes, so an empty diff is never mistaken for clean."""
    from backprop_lint.report.concise import line_of

    left = report.all_findings
    if left:
        lead = "After these fixes" if changed else "No safe fix applies;"
        count = len(left)
        print(f"{lead} {count} problem{'s' if count != 1 else ''} remain{'s' if count == 1 else ''}:", file=sys.stderr)
        for finding in left:
            print("  " + line_of(finding), file=sys.stderr)
    for file, error in report.internal_errors:
        print(printable(f"{file}: internal error: {error} (this is a bug in backprop-lint, please report it)"),
              file=sys.stderr)
    if not left and not changed and not report.internal_errors:
        print("Nothing to fix.", file=sys.stderr)


def reason_line(finding: Finding, reason: str) -> str:
    return f"{finding.location}: {finding.code} not fixed: {reason}"


def findings_by_file(report: LintReport) -> Dict[str, List[Finding]]:
    grouped: Dict[str, List[Finding]] = {}
    for finding in report.findings:
        if finding.fix is not None:
            grouped.setdefault(finding.location.file, []).append(finding)
    return grouped


def relint_texts(linter: Linter, paths: Sequence[str], texts: Dict[str, str]) -> LintReport:
    """Lint again after a fixing pass, with the fixed texts in memory (nothing is written)."""
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
        import json  # only this listing needs it: check's JSON report has its own module

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
    given = list(sys.argv[1:] if argv is None else argv)
    # every registered command is in OWN_COMMANDS + EXTERNAL_COMMANDS: when the static
    # names lead to `check`, the registered ones do too
    checking = with_default_command(given, OWN_COMMANDS + EXTERNAL_COMMANDS)
    plain = (read_plainly(checking, CHECK_PATHS, CHECK_OPTIONS, run_check) if checking[:1] == ["check"]
             else read_other_command_plainly(given))
    if plain is not None:
        read = plain
        return guarded(lambda: _run_handler(read))
    if checking[:1] == ["check"]:
        parser = build_parser(check_only=True)
        args = parser.parse_args(checking)
    else:
        parser = build_parser()
        args = parser.parse_args(with_default_command(given, list(_subcommand_names(parser))))
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    return guarded(lambda: _run_handler(args))


def read_other_command_plainly(argv: List[str]) -> Optional[argparse.Namespace]:
    """A plain ``graph`` or ``verify`` command line read without argparse (``cli/quickargs``), else None."""
    if argv[:1] not in (["graph"], ["verify"]):
        return None
    import importlib

    module = importlib.import_module(f"backprop_lint.cli.{argv[0]}")
    return read_plainly(argv, "net", module.OPTIONS, module.run)


def _run_handler(args: argparse.Namespace) -> int:
    try:
        return int(args.handler(args))
    except (ConfigError, OutputError) as err:
        print(f"backprop-lint: {printable(str(err))}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as err:
        # a baseline error can only come from the baseline module, imported only for --baseline
        baseline = sys.modules.get("backprop_lint.linting.baseline")
        if baseline is None or not isinstance(err, baseline.BaselineError):
            raise
        print(f"backprop-lint: {printable(str(err))}", file=sys.stderr)
        return EXIT_ERROR


def _subcommand_names(parser: argparse.ArgumentParser) -> Iterator[str]:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices




if __name__ == "__main__":
    raise SystemExit(main())
