"""The linting engine, and the library API (``lint``, ``check_before_training``).

One run goes: discover files -> classify each (net text, solver text, binary
net) -> plan the net states to lint (solvers add their nets with their
``train_state`` / ``test_state``) -> per net: load once, then per state
prepare, simulate and run the rules -> merge findings that are identical in
several states (``state: "TRAIN, TEST"``) -> configuration (severity
overrides, select / ignore, per-file-ignores) -> inline suppressions ->
severity threshold.

Solver files name their nets with paths that Caffe resolves against the
process's working directory. We try that first, then the solver's own
directory and each of its parents (so ``examples/mnist/lenet_solver.prototxt``
finds ``examples/mnist/lenet_train_test.prototxt`` from anywhere).
"""

from __future__ import annotations

import os

from backprop_lint.caffe import text_bytes
from backprop_lint.caffe.records import FrozenRecord, NamedTuple, Record
from backprop_lint.linting.config import Config, ConfigFinder, code_is_selected
from backprop_lint.caffe.files import os_error_message, problem_with
from backprop_lint.caffe.model import (
    BackpropLintError,
    InputError,
    LoadedNet,
    Location,
    Message,
    NetRefused,
    NetState,
)
from backprop_lint.linting.findings import (
    GROUP_POSITIONS,
    INPUT_ERROR_CODE,
    SEVERITIES,
    UNUSED_SUPPRESSION_CODE,
    UNUSED_SUPPRESSION_NAME,
    Finding,
    FindingGroup,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

    from backprop_lint.caffe.files import FileSnapshot
    from backprop_lint.caffe.model import SimulatedNet
    from backprop_lint.caffe.pipeline import NetStates
    from backprop_lint.linting.rules.base import Omitted

    #: called before each net is linted with (file, index, number of nets)
    ProgressCallback = Callable[[str, int, int], None]

NET_SUFFIXES: Tuple[str, ...] = (".prototxt", ".pbtxt")
BINARY_SUFFIXES: Tuple[str, ...] = (".caffemodel", ".binaryproto", ".pb")
DEFAULT_PHASES: Tuple[str, ...] = ("TRAIN", "TEST")
#: findings reported per file by default: past it, a file is better fixed than read (e.g. a field
#: misspelt on every layer of a generated net); the rest are counted in ``LintReport.not_shown``
MAX_FINDINGS_PER_FILE = 200

INPUT_ERROR_NAME = "input-error"
STATES_LINTED_CODE = "BL902"  # the linter's own note: which net states a standalone net was linted in
STATES_LINTED_NAME = "states-linted"


# ---------------------------------------------------------------------------
# The rule catalogue (the rules package's rules plus the two the shell emits)
# ---------------------------------------------------------------------------


class RuleInfo(NamedTuple):
    """A rule as the catalogue lists it (``rules``, ``explain``, SARIF's rule descriptors)."""

    code: str
    name: str
    severity: str
    summary: str


SHELL_RULES: Tuple[RuleInfo, ...] = (
    RuleInfo(
        INPUT_ERROR_CODE,
        INPUT_ERROR_NAME,
        "error",
        "The file cannot be read as a Caffe net or solver (malformed text, unknown field, missing file).",
    ),
    RuleInfo(
        UNUSED_SUPPRESSION_CODE,
        UNUSED_SUPPRESSION_NAME,
        "info",
        "A `# backprop-lint: disable=` comment silences nothing.",
    ),
)


def rule_catalogue() -> List[RuleInfo]:
    """Every rule, sorted by code."""
    from backprop_lint.linting.rules import ALL_RULES

    rules = {rule.code: RuleInfo(rule.code, rule.name, rule.severity, rule.summary) for rule in ALL_RULES}
    for shell_rule in SHELL_RULES:
        rules.setdefault(shell_rule.code, shell_rule)
    return [rules[code] for code in sorted(rules)]


def rule_doc_path(code: str) -> Optional[Path]:
    """The rule's Markdown page: ``rules/<CODE>.md`` in a checkout, or the installed copy."""
    from backprop_lint.linting.rules.docs import page_path

    return page_path(code)


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


class StateResult(FrozenRecord):
    """One net linted in one state (before merging and configuration)."""

    __slots__ = ("file", "state", "findings", "simulated")
    file: str
    state: str
    findings: Tuple[Finding, ...]
    simulated: Optional[SimulatedNet]

    def __init__(self, file: str, state: str, findings: Tuple[Finding, ...],
                 simulated: Optional[SimulatedNet] = None) -> None:
        self._set(file, state, findings, simulated)


class LintReport(Record):
    """Everything one run found."""

    __slots__ = ("findings", "errors", "files", "states", "suppressed", "internal_errors", "sources",
                 "not_shown", "grouped", "failing")
    #: reported findings (rules, refusals, unused suppressions), sorted
    findings: List[Finding]
    #: input errors (BL000 findings): files that could not be linted, sorted
    errors: List[Finding]
    #: every file looked at, as given or discovered
    files: List[str]
    states: List[StateResult]
    #: findings silenced by inline suppressions
    suppressed: List[Finding]
    #: (file, one-line description) of crashes inside backprop-lint itself
    internal_errors: List[Tuple[str, str]]
    #: file -> its text, for code frames and --fix
    sources: Dict[str, str]
    #: file -> how many findings past the per-file limit were left out of ``findings``
    not_shown: Dict[str, int]
    #: file -> those findings, one group per rule (its count, where the first ones are)
    grouped: Dict[str, List[FindingGroup]]
    #: reported findings at or above their file's `fail-on` severity (input errors always fail)
    failing: List[Finding]

    def __init__(
        self,
        findings: Optional[List[Finding]] = None,
        errors: Optional[List[Finding]] = None,
        files: Optional[List[str]] = None,
        states: Optional[List[StateResult]] = None,
        suppressed: Optional[List[Finding]] = None,
        internal_errors: Optional[List[Tuple[str, str]]] = None,
        sources: Optional[Dict[str, str]] = None,
        not_shown: Optional[Dict[str, int]] = None,
        grouped: Optional[Dict[str, List[FindingGroup]]] = None,
        failing: Optional[List[Finding]] = None,
    ) -> None:
        # None: a fresh empty list or dict per report
        self.findings = [] if findings is None else findings
        self.errors = [] if errors is None else errors
        self.files = [] if files is None else files
        self.states = [] if states is None else states
        self.suppressed = [] if suppressed is None else suppressed
        self.internal_errors = [] if internal_errors is None else internal_errors
        self.sources = {} if sources is None else sources
        self.not_shown = {} if not_shown is None else not_shown
        self.grouped = {} if grouped is None else grouped
        self.failing = [] if failing is None else failing

    @property
    def fails(self) -> bool:
        """Whether the run fails (exit status 1): an input error, or a finding at or above `fail-on`."""
        return bool(self.failing or self.errors)

    def absorb(self, other: "LintReport") -> None:
        """Append what ``other`` (the report of one more net) holds."""
        self.findings.extend(other.findings)
        self.failing.extend(other.failing)
        self.errors.extend(other.errors)
        self.files.extend(f for f in other.files if f not in self.files)
        self.states.extend(other.states)
        self.suppressed.extend(other.suppressed)
        self.internal_errors.extend(other.internal_errors)
        self.sources.update(other.sources)
        for file, count in other.not_shown.items():
            self.not_shown[file] = self.not_shown.get(file, 0) + count
        for file, groups in other.grouped.items():
            self.grouped.setdefault(file, []).extend(groups)

    @property
    def all_findings(self) -> List[Finding]:
        return sorted(self.errors + self.findings, key=Finding.sort_key)

    @property
    def ok(self) -> bool:
        return not (self.findings or self.errors or self.internal_errors)

    def count(self, severity: str) -> int:
        return sum(1 for finding in self.all_findings if finding.severity == severity)


class GradientCheckError(Exception):
    """Raised by ``check_before_training`` when the net has error-level findings."""

    def __init__(self, report: LintReport, errors: Sequence[Finding]) -> None:
        self.report = report
        self.errors = list(errors)
        lines = [f"backprop-lint found {len(errors)} error(s) in the net:"]
        for finding in errors:
            where = f"{finding.location}"
            state = f" [{finding.state}]" if finding.state else ""
            lines.append(f"  {where}: {finding.code} {finding.message}{state}")
            lines.extend(f"      because {reason}" for reason in finding.reasons)
        super().__init__("\n".join(lines))


# ---------------------------------------------------------------------------
# Options
# ---------------------------------------------------------------------------


class Overrides(FrozenRecord):
    """Command-line / API settings laid over each file's configuration (None: keep)."""

    __slots__ = ("select", "extend_ignore", "severity_threshold", "fail_on", "need_diff", "flavor", "build",
                 "phase", "level", "stages", "strict", "extend_packs")
    select: Optional[Tuple[str, ...]]
    extend_ignore: Tuple[str, ...]
    severity_threshold: Optional[str]
    fail_on: Optional[str]
    need_diff: Optional[Tuple[str, ...]]
    flavor: Optional[str]
    #: build options set on the command line, laid over the configuration's
    build: Optional[Mapping[str, bool]]
    phase: Optional[str]
    level: Optional[int]
    stages: Optional[Tuple[str, ...]]
    strict: Optional[bool]
    #: layer packs enabled on top of the configured ones (``--pack``)
    extend_packs: Tuple[str, ...]

    def __init__(
        self,
        select: Optional[Tuple[str, ...]] = None,
        extend_ignore: Tuple[str, ...] = (),
        severity_threshold: Optional[str] = None,
        fail_on: Optional[str] = None,
        need_diff: Optional[Tuple[str, ...]] = None,
        flavor: Optional[str] = None,
        build: Optional[Mapping[str, bool]] = None,
        phase: Optional[str] = None,
        level: Optional[int] = None,
        stages: Optional[Tuple[str, ...]] = None,
        strict: Optional[bool] = None,
        extend_packs: Tuple[str, ...] = (),
    ) -> None:
        self._set(select, extend_ignore, severity_threshold, fail_on, need_diff, flavor, build, phase, level,
                  stages, strict, extend_packs)

    def apply(self, config: Config) -> Config:
        merged = config.with_overrides(
            select=self.select,
            severity_threshold=self.severity_threshold,
            fail_on=self.fail_on,
            need_diff=self.need_diff,
            flavor=self.flavor,
            phase=self.phase,
            level=self.level,
            stages=self.stages,
            strict=self.strict,
            build={**config.build, **self.build} if self.build else None,
        )
        if self.extend_ignore:
            merged = merged.replace(ignore=merged.ignore + self.extend_ignore)
        if self.extend_packs:
            merged = merged.replace(packs=merged.packs + tuple(p for p in self.extend_packs if p not in merged.packs))
        return merged


# ---------------------------------------------------------------------------
# Discovery and classification
# ---------------------------------------------------------------------------


def path_text(path: Union[str, os.PathLike[str]]) -> str:
    """``str(Path(path))`` without pathlib (a plain run imports none): redundant ``/`` and ``.`` parts dropped.

    A file is shown as the user named it, tidied as pathlib tidies it (``./net.prototxt`` is
    ``net.prototxt``; ``..`` is kept).
    """
    text = os.fspath(path)
    root = "/" if text.startswith("/") else ""
    if text.startswith("//") and not text.startswith("///"):
        root = "//"  # POSIX leaves the meaning of exactly two leading slashes to the system
    return root + "/".join(part for part in text.split("/") if part and part != ".") or "."


def _suffix(path: str) -> str:
    return os.path.splitext(path)[1]


def discover(paths: Iterable[Union[str, os.PathLike[str]]]) -> Tuple[List[str], List[Finding]]:
    """Files to check: given files as they are, directories searched for *.prototxt / *.pbtxt.

    The search skips hidden directories (``.git``, ``.venv``...) and does not follow symlinked
    directories; a file named explicitly is always checked, whatever its name.
    """
    files: List[str] = []
    errors: List[Finding] = []
    for raw in paths:
        path = path_text(raw)
        problem = problem_with(path)
        if problem is not None:
            errors.append(input_error_finding(problem, Location(str(raw))))
        elif os.path.isdir(path):
            errors_before = len(errors)
            found = _nets_under(path, errors)
            files.extend(found)
            if not found and len(errors) == errors_before:
                errors.append(
                    input_error_finding(
                        f"no net found under '{raw}' (looked for *.prototxt and *.pbtxt, hidden folders skipped): "
                        "nothing was checked; name the net files, or the folder that holds them",
                        Location(str(raw)),
                    )
                )
        else:
            files.append(path)
    return _unique(files), errors


def _nets_under(directory: str, errors: List[Finding]) -> List[str]:
    """Net files under ``directory``; a directory that cannot be listed is an error, never skipped."""
    found: List[str] = []

    def unreadable(error: OSError) -> None:
        where = path_text(error.filename) if error.filename is not None else directory
        message = f"cannot search this directory: {os_error_message(where, error)}; its nets were not checked"
        errors.append(input_error_finding(message, Location(where)))

    for root, subdirectories, names in os.walk(directory, onerror=unreadable):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        for name in sorted(names):
            if _suffix(name) not in NET_SUFFIXES:
                continue
            path = path_text(f"{root}/{name}")
            problem = problem_with(path)
            if problem is None:
                found.append(path)
            else:
                errors.append(input_error_finding(problem, Location(path)))
    return found


def _unique(paths: Iterable[str]) -> List[str]:
    seen = set()
    unique = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


SOLVER_ONLY_FIELDS = frozenset(
    {
        "net",
        "net_param",
        "train_net",
        "test_net",
        "train_net_param",
        "test_net_param",
        "train_state",
        "test_state",
        "test_iter",
        "test_interval",
        "base_lr",
        "lr_policy",
        "max_iter",
        "solver_mode",
        "snapshot",
        "snapshot_prefix",
        "momentum",
        "weight_decay",
        "solver_type",
        "display",
        "gamma",
    }
)
NET_ONLY_FIELDS = frozenset({"layer", "layers", "input", "input_shape", "input_dim", "force_backward"})


def looks_like_solver(text: str) -> bool:
    """Whether ``text`` is a SolverParameter rather than a NetParameter (by its top-level fields)."""
    solver_fields = False
    for name in _top_level_field_names(text):
        if name in NET_ONLY_FIELDS:
            return False  # a net's first `layer {` settles it: the rest of a large net is not read
        solver_fields = solver_fields or name in SOLVER_ONLY_FIELDS
    return solver_fields


def _top_level_field_names(text: str) -> Iterator[str]:
    depth = 0
    for line in _lines(text):
        code = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
        if depth == 0:
            name = leading_field_name(code.strip())
            if name is not None:
                yield name
        depth += code.count("{") - code.count("}")
        if depth < 0:
            depth = 0


def leading_field_name(line: str) -> Optional[str]:
    """The field name a line starts with: an ASCII identifier, then maybe whitespace, then ``:`` or ``{``
    (what a regular expression said; compiling it cost more than reading a net's first lines)."""
    colon, brace = line.find(":"), line.find("{")
    end = brace if colon < 0 or 0 <= brace < colon else colon
    if end < 0:
        return None
    name = line[:end].rstrip()
    return name if name.isascii() and name.isidentifier() else None


def _lines(text: str) -> Iterator[str]:
    """``text.split("\\n")``, one line at a time: a caller that stops early reads no further."""
    start = 0
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def is_binary(path: Union[str, os.PathLike[str]], data: bytes) -> bool:
    if _suffix(os.fspath(path)) in BINARY_SUFFIXES:
        return True
    return b"\x00" in data[:4096] or not text_bytes.looks_like_text(data)


def state_label(state: NetState) -> str:
    """``TRAIN`` or ``TEST level=1 stages=deploy``, as the rules label findings."""
    from backprop_lint.linting.rules.base import state_label as rules_state_label

    return rules_state_label(state)


def input_error_finding(message: str, location: Location) -> Finding:
    return Finding(
        code=INPUT_ERROR_CODE,
        name=INPUT_ERROR_NAME,
        severity="error",
        location=location,
        message=message,
    )


def _error_location(error: BackpropLintError, file: str) -> Location:
    location = getattr(error, "location", None)
    return location if isinstance(location, Location) else Location(file)


# ---------------------------------------------------------------------------
# Solvers
# ---------------------------------------------------------------------------


class SolverNet(FrozenRecord):
    """A net a solver names, with the state Caffe builds it in."""

    __slots__ = ("source", "state", "location")
    source: Union[Path, Message]  # a net file, or an inline net_param
    state: NetState
    location: Location  # of the solver field naming it

    def __init__(self, source: Union[Path, Message], state: NetState, location: Location) -> None:
        self._set(source, state, location)


def solver_nets(text: str, solver_path: Path, flavor: str) -> Tuple[List[SolverNet], List[Finding]]:
    """The train net and test nets of a solver, as Solver::InitTrainNet / InitTestNets pick them."""
    from backprop_lint.caffe.textproto import parse

    file = str(solver_path)
    solver, _ = parse(text, file=file, flavor=flavor, message_type="SolverParameter")
    nets: List[SolverNet] = []
    errors: List[Finding] = []

    def where(name: str) -> Location:
        line, col = solver.positions.get(name, (0, 0))
        return Location(file, line, col)

    def state_for(phase: str, override: Optional[Message]) -> NetState:
        if override is None:
            return NetState(phase=phase)
        return NetState(
            phase=str(override.fields.get("phase", phase)),
            level=int(override.fields.get("level", 0)),
            stages=tuple(override.repeated("stage")),
        )

    def add(value: Any, field_name: str, state: NetState) -> None:
        if isinstance(value, Message):
            nets.append(SolverNet(value, state, where(field_name)))
            return
        resolved = resolve_solver_net_path(str(value), solver_path)
        if resolved is None:
            errors.append(input_error_finding(_missing_solver_net(str(value)), where(field_name)))
        else:
            nets.append(SolverNet(resolved, state, where(field_name)))

    train_state = solver.fields.get("train_state")
    test_states: List[Message] = solver.repeated("test_state")
    for field_name in ("train_net_param", "train_net", "net_param", "net"):
        if field_name in solver.fields:
            add(solver.fields[field_name], field_name, state_for("TRAIN", train_state))
            break
    test_specs: List[Tuple[Any, str]] = [(value, "test_net_param") for value in solver.repeated("test_net_param")]
    test_specs += [(value, "test_net") for value in solver.repeated("test_net")]
    generic = next((name for name in ("net_param", "net") if name in solver.fields), None)
    if generic is not None:
        extra = max(len(solver.repeated("test_iter")) - len(test_specs), 0)
        test_specs += [(solver.fields[generic], generic)] * extra
    for index, (value, field_name) in enumerate(test_specs):
        override = test_states[index] if index < len(test_states) else None
        add(value, field_name, state_for("TEST", override))
    if not nets and not errors:
        errors.append(input_error_finding("solver names no net (net, train_net or net_param)", Location(file, 1, 1)))
    return nets, errors


def _missing_solver_net(name: str) -> str:
    """Why a solver's net path names no readable net file (as seen from the working directory)."""
    shown = name if len(name) <= 200 else f"{name[:120]}...{name[-40:]} ({len(name)} characters)"
    problem = problem_with(name)
    if problem is None and os.path.isdir(name):
        problem = "is a directory, not a file"
    if problem is None or problem == "no such file or directory":
        return f"solver names a net that does not exist: '{shown}'"
    detail = f"it {problem}" if problem.startswith("is ") else problem
    return f"solver names the net '{shown}', which cannot be read: {detail}"


def resolve_solver_net_path(name: str, solver_path: Path) -> Optional[Path]:
    """Where Caffe finds a solver's net; None when no candidate is a file (or none can name one)."""
    try:
        return _find_solver_net(name, solver_path)
    except (OSError, ValueError):  # a name too long for the OS, a NUL byte: no file has it
        return None


def _find_solver_net(name: str, solver_path: Path) -> Optional[Path]:
    from pathlib import Path  # solvers only: a net file alone is found without pathlib

    candidate = Path(name)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    if candidate.is_file():  # relative to the working directory, as Caffe resolves it
        return candidate
    directory = solver_path.resolve().parent
    for base in [directory, *directory.parents]:
        if (base / candidate).is_file():
            return _shortest_display(base / candidate)
    return None


def _shortest_display(path: Path) -> Path:
    from pathlib import Path

    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------


class _NetPlan(Record):
    """One net to lint, and the states to lint it in."""

    __slots__ = ("source", "display", "config", "states", "data", "from_solver", "is_file")
    #: the net file's path (``is_file``), else the net itself: a solver's inline net, or what the
    #: library API was given (text, bytes, a NetParameter)
    source: Any
    display: str
    config: Config
    states: List[NetState]
    #: the net file's bytes as read (None for inline solver nets)
    data: Optional[bytes]
    #: True when a solver in this run names the net: its states are the solver's, and only them
    from_solver: bool
    is_file: bool

    def __init__(
        self,
        source: Any,
        display: str,
        config: Config,
        states: Optional[List[NetState]] = None,
        data: Optional[bytes] = None,
        from_solver: bool = False,
        is_file: bool = False,
    ) -> None:
        self.source = source
        self.display = display
        self.config = config
        self.states = [] if states is None else states
        self.data = data
        self.from_solver = from_solver
        self.is_file = is_file

    def add_state(self, state: NetState) -> None:
        if state not in self.states:
            self.states.append(state)


class Linter:
    """Lints files with per-file configuration and the given overrides."""

    def __init__(
        self,
        finder: Optional[ConfigFinder] = None,
        overrides: Overrides = Overrides(),
        max_findings_per_file: int = MAX_FINDINGS_PER_FILE,
        jobs: int = 1,
    ) -> None:
        self.finder = finder or ConfigFinder()
        self.overrides = overrides
        #: findings reported per file at most (the most severe first); 0: no limit
        self.max_findings_per_file = max_findings_per_file
        #: processes that lint nets at the same time (1: in this process). With more
        #: than one, the report is the same except that ``states`` carry no simulated net.
        self.jobs = jobs
        #: file (as displayed) -> text to lint instead of the file's content (--fix / --diff passes)
        self.replacement_texts: Dict[str, str] = {}
        #: (name, content) of the net read from stdin, linted where the path ``-`` is given
        self.stdin: Optional[Tuple[str, bytes]] = None
        #: file (as displayed) -> its identity when it was read (--fix refuses to replace a file that changed)
        self.snapshots: Dict[str, FileSnapshot] = {}
        #: record ``snapshots`` (False when nothing will be written back: no SHA-256, no hashlib)
        self.keep_snapshots = True
        #: keep each state's simulated net in ``LintReport.states`` (False: None there, and a net's
        #: objects are freed as soon as it is linted rather than rescanned by the garbage collector)
        self.keep_simulated = True

    def read(self, path: str) -> bytes:
        """The file's bytes (or its replacement text); raises ``InputError`` for anything but a sane file."""
        replacement = self.replacement_texts.get(path)
        if replacement is not None:
            return text_bytes.encode(replacement)
        if self.stdin is not None and path == self.stdin[0]:
            return self.stdin[1]
        if not self.keep_snapshots:
            from backprop_lint.caffe.load import read_net_bytes

            return read_net_bytes(path)
        from backprop_lint.caffe.load import read_net_file

        data, snapshot = read_net_file(path)
        self.snapshots[path] = snapshot
        return data

    def config_for(self, path: Union[str, os.PathLike[str]]) -> Config:
        return self.overrides.apply(self.finder.for_file(path))

    # -- files ------------------------------------------------------------

    def lint_paths(
        self, paths: Iterable[Union[str, os.PathLike[str]]], progress: Optional[ProgressCallback] = None
    ) -> LintReport:
        paths = list(paths)
        reads_stdin = self.stdin is not None and any(str(path) == "-" for path in paths)
        files, errors = discover(path for path in paths if not (reads_stdin and str(path) == "-"))
        if reads_stdin and self.stdin is not None:
            files.append(path_text(self.stdin[0]))
        report = LintReport(errors=list(errors), files=list(files))
        plans: Dict[str, _NetPlan] = {}
        for path in files:
            self._plan_file(path, plans, report)
        self._lint_plans(list(plans.values()), report, progress)
        report.findings.sort(key=Finding.sort_key)
        report.errors.sort(key=Finding.sort_key)
        report.failing.sort(key=Finding.sort_key)
        self.limit_findings(report)
        return report

    def _lint_plans(self, plans: List[_NetPlan], report: LintReport, progress: Optional[ProgressCallback]) -> None:
        """Lint every plan into ``report``, in plan order whatever the number of processes."""
        done = 0
        if min(self.jobs, len(plans)) > 1:
            import multiprocessing  # only here: one net needs no other process

            if "fork" in multiprocessing.get_all_start_methods():
                done = self._lint_plans_forked(plans, report, progress)
        for index in range(done, len(plans)):
            if progress:
                progress(plans[index].display, index, len(plans))
            self._lint_plan(plans[index], report)

    def _lint_plans_forked(
        self, plans: List[_NetPlan], report: LintReport, progress: Optional[ProgressCallback]
    ) -> int:
        """Lint plans in forked processes (which inherit the plans: nothing is pickled on the way in).

        Results are taken in plan order, so the report is the one a single
        process builds. Returns how many plans were done: if a worker dies,
        the caller lints the rest itself.
        """
        global _FORKED_WORK
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        _FORKED_WORK = (self, plans)
        done = 0
        executor = ProcessPoolExecutor(
            max_workers=min(self.jobs, len(plans)),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_ignore_interrupts,
        )
        try:
            for part in executor.map(_lint_forked_plan, range(len(plans))):
                if progress:
                    progress(plans[done].display, done, len(plans))
                report.absorb(part)
                done += 1
        except BrokenProcessPool:
            pass
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
            _FORKED_WORK = None
        return done

    def limit_findings(self, report: LintReport) -> None:
        """At most ``max_findings_per_file`` findings per file, the most severe first; the rest
        counted in ``not_shown`` and grouped per rule in ``grouped`` (with the groups of the
        findings rules did not even create, already there)."""
        limit = self.max_findings_per_file
        by_file: Dict[str, List[Finding]] = {}
        for finding in report.findings:
            by_file.setdefault(finding.location.file, []).append(finding)
        dropped: Dict[str, List[Finding]] = {}
        if limit and any(len(group) > limit for group in by_file.values()):
            rank = {severity: i for i, severity in enumerate(SEVERITIES)}
            kept: List[Finding] = []
            for file, group in by_file.items():
                if len(group) > limit:
                    ranked = sorted(group, key=lambda f: (-rank.get(f.severity, 0), f.sort_key()))
                    group, dropped[file] = ranked[:limit], ranked[limit:]
                kept.extend(group)
            report.findings = sorted(kept, key=Finding.sort_key)
        for file in sorted(set(dropped) | set(report.grouped)):
            groups = group_findings(file, dropped.get(file, []), report.grouped.get(file, []))
            report.grouped[file] = groups
            report.not_shown[file] = sum(group.count for group in groups)

    def _plan_file(self, path: str, plans: Dict[str, _NetPlan], report: LintReport) -> None:
        try:
            data = self.read(path)
        except InputError as err:
            report.errors.append(input_error_finding(err.message, _error_location(err, path)))
            return
        config = self.config_for(path)
        if not is_binary(path, data):
            text = text_bytes.decode(data)
            if looks_like_solver(text):
                self._plan_solver(path, text, config, plans, report)
                return
        plan = self._plan_for(path, plans, config, data)
        if plan.data is None:
            plan.data = data
        if config.phase or config.stages:  # states asked for; otherwise the net's own (intended_states)
            for state in default_states(config):
                plan.add_state(state)

    def _plan_for(
        self, path: str, plans: Dict[str, _NetPlan], config: Config, data: Optional[bytes] = None
    ) -> _NetPlan:
        key = os.path.realpath(path)
        if key not in plans:
            plans[key] = _NetPlan(path, path, config, data=data, is_file=True)
        return plans[key]

    def _plan_solver(
        self, path: str, text: str, config: Config, plans: Dict[str, _NetPlan], report: LintReport
    ) -> None:
        from pathlib import Path  # solvers only

        try:
            nets, errors = solver_nets(text, Path(path), config.flavor)
        except InputError as err:
            report.errors.append(input_error_finding(err.message, _error_location(err, path)))
            return
        report.errors.extend(errors)
        for index, net in enumerate(nets):
            if config.phase and net.state.phase != config.phase:
                continue
            if isinstance(net.source, Path):
                net_file = str(net.source)
                if net_file not in report.files:
                    report.files.append(net_file)
                plan = self._plan_for(net_file, plans, self.config_for(net_file))
                if plan.data is None:
                    try:
                        plan.data = self.read(net_file)
                    except InputError as err:
                        report.errors.append(
                            input_error_finding(f"cannot read the net {net_file}: {err.message}", net.location)
                        )
                        continue
            else:
                key = f"{os.path.realpath(path)}#net{index}"
                plan = plans.setdefault(key, _NetPlan(net.source, path, config))
            if not plan.from_solver:
                plan.states.clear()  # a standalone pass of the same file must not add other states
                plan.from_solver = True
            plan.add_state(net.state)

    # -- one net ----------------------------------------------------------

    def _lint_plan(self, plan: _NetPlan, report: LintReport) -> None:
        # one net's stages, rules and re-simulations build many containers and free few:
        # cyclic collection would rescan them over and over to find nothing (a third of
        # `check` on a large net); what one net leaves is collected once it is done
        from backprop_lint.caffe.pipeline import gc_paused

        try:
            with gc_paused():
                self._lint_net(plan, report)
        except Exception as err:  # a bug of ours: say so in one line, keep going
            import traceback

            frame = traceback.extract_tb(err.__traceback__)[-1] if err.__traceback__ else None
            where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
            report.internal_errors.append((plan.display, f"{type(err).__name__}: {err}{where}"))

    def _lint_net(self, plan: _NetPlan, report: LintReport) -> None:
        config = plan.config
        if plan.is_file and plan.data is not None and not is_binary(plan.source, plan.data):
            report.sources[plan.display] = text_bytes.decode(plan.data)  # code frames even for unreadable nets
        try:
            loaded = load_net(plan.source, plan.display, config, plan.data, plan.is_file)
        except BackpropLintError as err:
            message = getattr(err, "message", str(err))
            report.errors.append(input_error_finding(message, _error_location(err, plan.display)))
            return
        text = None if isinstance(plan.source, Message) else loaded.text
        if text is not None:
            report.sources[plan.display] = text
        from backprop_lint.caffe.pipeline import NetStates

        shared = NetStates(loaded, config.flavor, dict(config.declared_layers) or None, packs=config.packs,
                           build=config.build)
        states = list(plan.states)
        file_findings: List[Finding] = []
        if not states:
            states, note = intended_states(loaded, config, shared)
            if note is not None:
                file_findings.append(note)
        per_state: List[Tuple[str, List[Finding]]] = []
        # past the per-file limit nothing is shown, so rules that can make very many findings
        # stop there; not when a suppression could silence some of those they did make
        budget = self.max_findings_per_file if text is None or "backprop-lint" not in text else 0
        omitted: Dict[str, Omitted] = {}
        for state in states:
            label = state_label(state)
            findings, simulated = lint_state(shared, state, config, text, budget, omitted)
            stamped = [finding if finding.state else finding.replace(state=label) for finding in findings]
            kept_net = simulated if self.keep_simulated else None
            report.states.append(StateResult(plan.display, label, tuple(stamped), kept_net))
            per_state.append((label, stamped))
        merged = file_findings + merge_states(per_state)
        kept, suppressed = configure_findings(merged, config, plan.display, text)
        groups = configure_omitted(omitted, config, plan.display)
        if groups:
            report.grouped.setdefault(plan.display, []).extend(groups)
        report.findings.extend(kept)
        fail_from = SEVERITIES.index(config.fail_on)
        report.failing.extend(finding for finding in kept if SEVERITIES.index(finding.severity) >= fail_from)
        report.suppressed.extend(suppressed)


def group_findings(file: str, dropped: Sequence[Finding], omitted: Sequence[FindingGroup]) -> List[FindingGroup]:
    """One group per rule of ``file``: the findings the limit dropped, then the ones rules
    never created (``omitted``, which come after them in the file), the most severe first."""
    by_code: Dict[str, FindingGroup] = {}
    for finding in sorted(dropped, key=Finding.sort_key):
        group = by_code.get(finding.code)
        if group is None:
            group = FindingGroup(file, finding.code, finding.name, finding.severity, 0, ())
        by_code[finding.code] = group.merged(1, [finding.location])
    for extra in omitted:
        group = by_code.get(extra.code)
        if group is None:
            by_code[extra.code] = extra
        else:  # two nets in one file (a solver's inline nets): their positions in file order
            first = sorted(group.first + extra.first, key=lambda at: (at.line, at.col))
            by_code[extra.code] = group._replace(count=group.count + extra.count, first=tuple(first[:GROUP_POSITIONS]))
    rank = {severity: i for i, severity in enumerate(SEVERITIES)}
    return sorted(by_code.values(), key=lambda group: (-rank.get(group.severity, 0), group.code))


#: what forked workers lint: set by the parent right before it forks them
_FORKED_WORK: Optional[Tuple[Linter, List[_NetPlan]]] = None


def _ignore_interrupts() -> None:
    """Workers leave ^C to the parent, which stops them and says so in one line."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _lint_forked_plan(index: int) -> LintReport:
    assert _FORKED_WORK is not None
    linter, plans = _FORKED_WORK
    report = LintReport()
    linter._lint_plan(plans[index], report)
    # the parent only reports findings: a simulated net would just slow down the way back
    report.states = [state.replace(simulated=None) for state in report.states]
    return report


def default_states(config: Config) -> List[NetState]:
    phases = (config.phase,) if config.phase else DEFAULT_PHASES
    return [NetState(phase=phase, level=config.level, stages=tuple(config.stages)) for phase in phases]


def intended_states(
    loaded: LoadedNet, config: Config, shared: Optional[NetStates] = None
) -> Tuple[List[NetState], Optional[Finding]]:
    """The states a standalone net is meant for: those in which every blob read has a producer.

    Per phase: the state with no stage when it can be built, else the states the include rules'
    stage sets complete to (``caffe.states``). A phase with none is left out. When no state at all
    can be built, both phases are linted as they are (the refusals say why). When the states are
    not simply TRAIN and TEST, a BL902 note says which were linted and why.
    ``shared``: the NetStates that will prepare those states (its upgrade is theirs).
    """
    from backprop_lint.caffe.pipeline import NetStates

    defaults = default_states(config)
    try:
        upgraded, _, _ = (shared or NetStates(loaded, config.flavor, packs=config.packs)).upgraded()
    except NetRefused:
        return defaults, None  # the upgrade refusal is reported in every state
    if not any("include" in layer.fields or "exclude" in layer.fields for layer in upgraded.repeated("layer")):
        return defaults, None  # every layer is in every state
    from backprop_lint.caffe.states import survey_states

    survey = survey_states(upgraded, level=config.level)
    chosen: List[NetState] = []
    for states in survey.buildable_as.values():
        chosen.extend(state for state in states if state not in chosen)
    if not chosen or chosen == defaults:
        return defaults, None
    return chosen, states_note(loaded, survey, chosen, config.level)


def states_note(loaded: LoadedNet, survey: Any, chosen: Sequence[NetState], level: int) -> Finding:
    """BL902: which states were linted, and why the others were not."""
    linted = ", ".join(state_label(state) for state in chosen)
    reasons: List[str] = []
    location = Location(loaded.file)
    for phase in DEFAULT_PHASES:
        plain = NetState(phase=phase, level=level)
        if plain in chosen or not survey.unproduced.get(plain):
            continue
        first = survey.unproduced[plain][0]
        producers = "; ".join(
            f"`{name}` (included only with {' or '.join(f'`{rule}`' for rule in rules) or 'its exclude rules unmet'})"
            for name, rules in first.producers[:MAX_DATA_LAYERS_NAMED]
        )
        reasons.append(
            f"in {phase} with no stage, `{first.reader}` reads `{first.blob}`, but every layer producing it is "
            f"left out there: {producers}; Caffe could not build the net (\"Unknown bottom blob\")"
        )
        staged = [state for state in chosen if state.phase == phase]
        if staged:
            needs = " or ".join("`" + " ".join(f'stage: "{s}"' for s in state.stages) + "`" for state in staged)
            reasons.append(
                f"it builds in {phase} with {needs} (a solver's `{phase.lower()}_state`, or "
                f"`caffe.Net(..., stages=[...])`), so that is what was linted"
            )
        else:
            others = sorted({state.phase for state in chosen})
            reasons.append(f"no stage brings them into {phase}: the net is meant for {', '.join(others)} only")
        if location.line == 0:
            layer = next((d for d in survey.data_layers if d.name == first.producers[0][0] and d.line), None)
            location = Location(loaded.file, layer.line, 1) if layer is not None else location
    return Finding(
        code=STATES_LINTED_CODE,
        name=STATES_LINTED_NAME,
        severity="info",
        location=location,
        message=f"linted in {linted}: the states this net can be built in",
        reasons=tuple(reasons),
    )


MAX_DATA_LAYERS_NAMED = 4


def load_net(
    source: Any, display: str, config: Config, data: Optional[bytes] = None, is_file: bool = False
) -> LoadedNet:
    """Stage 1, once per net: every state is prepared from the same LoadedNet.

    ``is_file``: ``source`` is the path of a net file, and ``data`` its bytes when read.
    """
    from backprop_lint.caffe.load import load, load_bytes, load_file, load_text

    if is_file:
        if data is None:
            return load_file(source, flavor=config.flavor, strict=config.strict, file=display, packs=config.packs)
        if is_binary(source, data):
            return load_bytes(data, flavor=config.flavor, strict=config.strict, file=display, packs=config.packs)
        return load_text(text_bytes.decode(data), flavor=config.flavor, strict=config.strict, file=display,
                         packs=config.packs)
    if isinstance(source, str):  # text given to the library API
        return load_text(source, flavor=config.flavor, strict=config.strict, file=display, packs=config.packs)
    return load(source, flavor=config.flavor, strict=config.strict, file=display, packs=config.packs)


def lint_state(
    shared: "NetStates",
    state: NetState,
    config: Config,
    text: Optional[str],
    budget: int = 0,
    omitted: Optional[Dict[str, "Omitted"]] = None,
) -> Tuple[List[Finding], Optional[SimulatedNet]]:
    """Prepare, simulate and run the rules for one state; a refusal becomes a finding.

    ``shared`` holds the work the states of one net share (upgrade, filtered
    layers, simulations). ``budget``: ``RuleContext.finding_budget``; what rules
    leave out past it goes into ``omitted`` (code -> Omitted).
    """
    from backprop_lint.linting.rules import RuleContext, refusal_finding, run_rules
    from backprop_lint.linting.rules.base import OMITTED

    resimulate = shared.simulate
    try:
        prepared = shared.prepare(phase=state.phase, level=state.level, stages=state.stages)
        simulated = resimulate(prepared)
    except NetRefused as err:
        context = RuleContext.for_refusal(err, file=shared.loaded.file, text=text, state=state_label(state))
        # the text parser's stops come first: real Caffe never gets as far as this refusal
        unreadable = unreadable_field_findings(shared.loaded, text, config.flavor, budget, omitted)
        return unreadable + [refusal_finding(err, context)], None
    context = RuleContext.for_net(simulated, text=text, need_diff=config.need_diff, resimulate=resimulate,
                                  finding_budget=budget, aborts_when_forced=shared.aborts_when_forced)
    findings = list(run_rules(context))
    if omitted is not None:
        omitted.update(context.memo.get(OMITTED, {}))
    return findings, simulated


def unreadable_field_findings(
    loaded: LoadedNet,
    text: Optional[str],
    flavor: str,
    budget: int = 0,
    omitted: Optional[Dict[str, "Omitted"]] = None,
) -> List[Finding]:
    """BL403 for the fields Caffe's text parser stops at (they hold whatever the net state);
    ``budget`` and ``omitted`` as in ``lint_state``."""
    from backprop_lint.linting.rules.base import OMITTED
    from backprop_lint.linting.rules.custom import (
        UNREADABLE_FIELD_KINDS,
        grouped,
        unreadable_field_finding,
        within_budget,
    )

    if text is None:
        return []
    unreadable = [warning for warning in loaded.warnings if warning.kind in UNREADABLE_FIELD_KINDS]
    memo: Dict[str, Any] = {}
    groups = within_budget(loaded.file, grouped(unreadable), budget, memo)
    if omitted is not None:
        omitted.update(memo.get(OMITTED, {}))
    return [unreadable_field_finding(loaded.file, warning, message, flavor) for warning, message in groups]


#: findings about the file as read and upgraded, before FilterNet: they hold in every net state,
#: so they carry no state label
LOAD_TIME_CODES = frozenset({"BL402", "BL403", "BL404"})


def merge_states(per_state: Sequence[Tuple[str, Sequence[Finding]]]) -> List[Finding]:
    """One finding per distinct problem; its ``state`` lists every state it occurs in."""
    order: List[Tuple[Any, ...]] = []
    states: Dict[Tuple[Any, ...], List[str]] = {}
    first: Dict[Tuple[Any, ...], Finding] = {}
    for label, findings in per_state:
        for finding in findings:
            key = _identity(finding)
            if key not in first:
                first[key] = finding
                states[key] = []
                order.append(key)
            state = finding.state or label
            if state not in states[key]:
                states[key].append(state)
    return [
        first[key].replace(state="" if key[0] in LOAD_TIME_CODES else ", ".join(states[key])) for key in order
    ]


def _identity(finding: Finding) -> Tuple[Any, ...]:
    return (finding.code, finding.location, finding.layer, finding.message, finding.reasons, finding.fix)


def configure_findings(
    findings: Sequence[Finding], config: Config, file: str, text: Optional[str]
) -> Tuple[List[Finding], List[Finding]]:
    """Apply severity overrides, select/ignore, per-file-ignores, suppressions and the threshold.

    Returns (kept, suppressed).
    """
    file_ignores = config.ignored_for_file(file)

    def enabled(code: str) -> bool:
        return code_is_selected(code, config.select, tuple(config.ignore) + file_ignores)

    adjusted = [f.replace(severity=config.severity_of(f.code, f.severity)) for f in findings]
    selected = [finding for finding in adjusted if enabled(finding.code)]
    suppressed: List[Finding] = []
    if text is not None and "backprop-lint" in text:  # every directive names the tool; most nets have none
        from backprop_lint.linting import suppress

        directives = suppress.parse_suppressions(text, file)
        result = suppress.apply_suppressions(
            selected, directives, code_enabled=lambda prefix: _prefix_enabled(prefix, enabled)
        )
        unused = [f.replace(severity=config.severity_of(f.code, f.severity)) for f in result.unused]
        selected = result.kept + [finding for finding in unused if enabled(finding.code)]
        suppressed = result.suppressed
    threshold = SEVERITIES.index(config.severity_threshold)
    kept = [finding for finding in selected if SEVERITIES.index(finding.severity) >= threshold]
    return kept, suppressed


def configure_omitted(omitted: Mapping[str, "Omitted"], config: Config, file: str) -> List[FindingGroup]:
    """The findings rules left uncreated, as groups, with the configuration applied as
    ``configure_findings`` applies it (no suppression exists where rules leave findings out)."""
    file_ignores = config.ignored_for_file(file)
    threshold = SEVERITIES.index(config.severity_threshold)
    groups = []
    for code, left in omitted.items():
        severity = config.severity_of(code, left.severity)
        if code_is_selected(code, config.select, tuple(config.ignore) + file_ignores) and (
            SEVERITIES.index(severity) >= threshold
        ):
            groups.append(FindingGroup(file, code, left.name, severity, left.count, left.first))
    return groups


def _prefix_enabled(prefix: str, enabled: Callable[[str], bool]) -> bool:
    """A suppression's code or prefix is live when some known rule it names is enabled."""
    if prefix == "ALL":
        return True
    try:
        codes = [rule.code for rule in rule_catalogue()]
    except ImportError:
        codes = []
    matching = [code for code in codes if code.startswith(prefix)] or [prefix]
    return any(enabled(code) for code in matching)


# ---------------------------------------------------------------------------
# Library API
# ---------------------------------------------------------------------------


def lint(
    net: Any,
    phase: Optional[str] = None,
    flavor: Optional[str] = None,
    need_diff: Sequence[str] = (),
    level: Optional[int] = None,
    stages: Sequence[str] = (),
    config: Union[None, str, Path, Config, Mapping[str, Any]] = None,
    packs: Sequence[str] = (),
    build: Union[None, str, Mapping[str, bool]] = None,
) -> LintReport:
    """Lint a net given as a path, its text, bytes, or a NetParameter (ours or pycaffe's).

    ``build``: the Caffe build's options, ``"opencv,no-cudnn"`` or ``{"cudnn": True}``
    (backprop_lint.caffe.build_options); options not named keep the flavour's usual build.

    ``config`` is a path to a pyproject.toml / backprop-lint.toml, a ``Config``,
    or a dict of the same keys as ``[tool.backprop-lint]``; without it, a path's
    configuration is discovered as on the command line (other inputs: defaults).
    Arguments given here override the configuration; ``packs`` are enabled on top of
    the configured ones.
    """
    from backprop_lint.caffe.packs import checked_pack_names

    overrides = Overrides(
        need_diff=tuple(need_diff) or None,
        flavor=flavor,
        build=_build_setting(build),
        phase=phase.upper() if phase else None,
        level=level,
        stages=tuple(stages) or None,
        extend_packs=checked_pack_names(packs),
    )
    base = _config_from_argument(config)
    if _is_path(net):
        finder = _FixedConfig(base) if base is not None else ConfigFinder()
        return Linter(finder, overrides).lint_paths([net])
    effective = overrides.apply(base or Config())
    display = "<NetParameter>" if _is_message(net) else "<bytes>" if isinstance(net, bytes) else "<string>"
    report = LintReport(files=[display])
    asked = effective.phase or effective.stages  # else: the states the net is meant for (intended_states)
    plan = _NetPlan(net, display, effective, states=default_states(effective) if asked else [])
    linter = Linter(_FixedConfig(effective))
    linter._lint_plan(plan, report)
    linter.limit_findings(report)
    return report


def _build_setting(build: Union[None, str, Mapping[str, bool]]) -> Optional[Dict[str, bool]]:
    from backprop_lint.caffe.build_options import check_build_table, parse_build_flag

    if build is None:
        return None
    return parse_build_flag(build) if isinstance(build, str) else check_build_table(build, "build")


def check_before_training(
    net: Any,
    phase: Optional[str] = "TRAIN",
    flavor: Optional[str] = None,
    need_diff: Sequence[str] = (),
    level: Optional[int] = None,
    stages: Sequence[str] = (),
    config: Union[None, str, Path, Config, Mapping[str, Any]] = None,
) -> LintReport:
    """Lint and raise ``GradientCheckError`` on any error-level finding (or unreadable net).

    Meant as a training script's first line:
    ``check_before_training("train_val.prototxt", need_diff=["data"])``.
    """
    report = lint(net, phase=phase, flavor=flavor, need_diff=need_diff, level=level, stages=stages, config=config)
    if report.internal_errors:
        file, description = report.internal_errors[0]
        raise RuntimeError(f"backprop-lint crashed on {file}: {description}")
    errors = [finding for finding in report.all_findings if finding.severity == "error"]
    if errors:
        raise GradientCheckError(report, errors)
    return report


class _FixedConfig(ConfigFinder):
    """A ConfigFinder that gives one configuration to every file."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self._fixed = config

    def for_file(self, path: Union[str, os.PathLike[str]]) -> Config:
        return self._fixed


def _config_from_argument(config: Union[None, str, Path, Config, Mapping[str, Any]]) -> Optional[Config]:
    from backprop_lint.linting.config import load_config_file, parse_table

    if config is None or isinstance(config, Config):
        return config
    from pathlib import Path

    if isinstance(config, (str, Path)):
        return load_config_file(Path(config))
    return parse_table(config)


def _is_message(value: Any) -> bool:
    return hasattr(value, "DESCRIPTOR") and hasattr(value, "SerializeToString")


def _is_path(value: Any) -> bool:
    """A PathLike, or a string naming an existing file or without any net syntax in it."""
    if isinstance(value, os.PathLike):
        return True
    if not isinstance(value, str) or len(value) > 4096 or "\n" in value:
        return False
    from pathlib import Path  # the library API only; Path.exists raises where os.path.exists would not

    return Path(value).exists() or not any(char in value for char in ':{"')
