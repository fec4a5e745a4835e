"""Configuration: ``[tool.backprop-lint]`` in pyproject.toml, or a standalone backprop-lint.toml.

Discovery: for each checked file, the nearest configuration found walking up
from the file's directory wins (a ``pyproject.toml`` counts only when it has a
``[tool.backprop-lint]`` table; ``backprop-lint.toml`` and
``.backprop-lint.toml`` hold the same keys at their top level). ``--config
FILE`` replaces discovery for every file. Command-line options override the
file: ``--select`` replaces ``select``, ``--ignore`` adds to ``ignore``, and
the other options replace their key.

Keys (all optional)::

    select = ["BL1", "BL301"]        # code prefixes; "ALL" or absent: every rule
    ignore = ["BL3"]                 # a more specific select still wins
    severity-threshold = "info"      # show findings at or above this
    fail-on = "warning"              # exit 1 when a shown finding is at or above this
    need-diff = ["data"]             # blobs whose gradient you need
    flavor = "bvlc"                  # or "ssd"
    build = {opencv = true, cudnn = false}   # the Caffe build's options (see build_options.py);
                                     # options not named keep the flavour's usual build
    phase = "TRAIN"                  # lint only this phase (default: TRAIN and TEST)
    level = 0
    stages = ["deploy"]
    strict = false
    packs = ["py-faster-rcnn"]       # layer packs of Caffe forks (backprop-lint packs)
    [severity]                       # per-code severity overrides
    BL301 = "error"
    [per-file-ignores]               # glob (relative to the config's directory) -> codes
    "legacy/*.prototxt" = ["BL1"]
    [layers.ROIPooling]              # declared custom layers, passed to the pipeline
    params = 0
    backward = "respects-pd"
"""

from __future__ import annotations

import os
import re
import sys

from backprop_lint.caffe.files import read_regular_file
from backprop_lint.caffe.model import InputError
from backprop_lint.caffe.records import FrozenRecord
from backprop_lint.linting.findings import INPUT_ERROR_CODE, SEVERITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

TOOL_TABLE = "backprop-lint"
#: a configuration file bigger than this is refused before it is read (real ones are a few KB)
MAX_CONFIG_BYTES = 1024 * 1024
STANDALONE_NAMES: Tuple[str, ...] = ("backprop-lint.toml", ".backprop-lint.toml")
PHASES: Tuple[str, ...] = ("TRAIN", "TEST")
FLAVORS: Tuple[str, ...] = ("bvlc", "ssd")
#: compiled (by re's cache) when codes are given: a plain run names none
CODE_PREFIX = r"^(ALL|BL\d{0,3})$"


def known_codes() -> Tuple[str, ...]:
    """Every rule code, sorted (the rules package's rules and the linter's input error)."""
    from backprop_lint.linting.rules import ALL_RULES

    return tuple(sorted({rule.code for rule in ALL_RULES} | {INPUT_ERROR_CODE}))


def unknown_code_problem(code: str) -> Optional[str]:
    """Why ``code`` names no rule (None when it is a rule code, or a prefix of one, or ALL).

    The message suggests the closest codes, so ``BL999`` or ``BL2O1`` is caught
    instead of silently selecting (or ignoring) nothing.
    """
    if code == "ALL":
        return None
    codes = known_codes()
    if re.match(CODE_PREFIX, code) and any(known.startswith(code) for known in codes):
        return None
    if re.match(CODE_PREFIX, code):
        what = f"no rule has the code '{code}'" if len(code) == 5 else f"no rule code starts with '{code}'"
    else:
        what = f"'{code}' is not a rule code or prefix (like BL101, BL1 or ALL)"
    import difflib

    closest = difflib.get_close_matches(code, codes, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(closest)}?" if closest else " (see `backprop-lint rules`)"
    return what + hint


class ConfigError(Exception):
    """The configuration is invalid; rendered as ``file: error: key 'k': message``."""

    def __init__(self, message: str, file: Optional[str] = None, key: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.key = key

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        what = f"key '{self.key}': " if self.key else ""
        return f"{where}error: invalid configuration: {what}{self.message}"


class Config(FrozenRecord):
    """Effective settings for one file (config file merged with the command line)."""

    __slots__ = (
        "select", "ignore", "severity_overrides", "severity_threshold", "fail_on", "per_file_ignores",
        "need_diff", "flavor", "build", "phase", "level", "stages", "strict", "declared_layers", "packs", "source",
    )
    select: Tuple[str, ...]
    ignore: Tuple[str, ...]
    severity_overrides: Mapping[str, str]
    severity_threshold: str
    fail_on: str
    per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...]
    need_diff: Tuple[str, ...]
    flavor: str
    #: build options the user set (option -> on); the others keep the flavour's usual build
    build: Mapping[str, bool]
    phase: Optional[str]
    level: int
    stages: Tuple[str, ...]
    strict: bool
    declared_layers: Mapping[str, Mapping[str, Any]]
    #: enabled layer packs, in the order given (the first pack listed wins a type two define)
    packs: Tuple[str, ...]
    #: the file this came from (None: defaults only)
    source: Optional[Path]

    def __init__(
        self,
        select: Tuple[str, ...] = (),
        ignore: Tuple[str, ...] = (),
        severity_overrides: Optional[Mapping[str, str]] = None,
        severity_threshold: str = "info",
        fail_on: str = "warning",
        per_file_ignores: Tuple[Tuple[str, Tuple[str, ...]], ...] = (),
        need_diff: Tuple[str, ...] = (),
        flavor: str = "bvlc",
        build: Optional[Mapping[str, bool]] = None,
        phase: Optional[str] = None,
        level: int = 0,
        stages: Tuple[str, ...] = (),
        strict: bool = False,
        declared_layers: Optional[Mapping[str, Mapping[str, Any]]] = None,
        packs: Tuple[str, ...] = (),
        source: Optional[Path] = None,
    ) -> None:
        # None: a fresh empty mapping per Config, as ``field(default_factory=dict)`` gave
        self._set(
            select, ignore, {} if severity_overrides is None else severity_overrides, severity_threshold, fail_on,
            per_file_ignores, need_diff, flavor, {} if build is None else build, phase, level, stages, strict,
            {} if declared_layers is None else declared_layers, packs, source,
        )

    @property
    def root(self) -> Path:
        """The directory that per-file-ignores globs are relative to."""
        from pathlib import Path  # only with per-file-ignores: a plain run needs no pathlib

        return self.source.parent if self.source else Path.cwd()

    def is_enabled(self, code: str) -> bool:
        return code_is_selected(code, self.select, self.ignore)

    def severity_of(self, code: str, default: str) -> str:
        return self.severity_overrides.get(code, default)

    def ignored_for_file(self, path: str) -> Tuple[str, ...]:
        """Codes (prefixes) that per-file-ignores switch off for ``path``."""
        if not self.per_file_ignores:
            return ()
        from pathlib import Path, PurePosixPath

        relative = _relative_posix(Path(path), self.root)
        name = PurePosixPath(relative).name
        codes: List[str] = []
        for pattern, pattern_codes in self.per_file_ignores:
            if glob_matches(pattern, relative, name):
                codes.extend(pattern_codes)
        return tuple(codes)

    def with_overrides(self, **changes: Any) -> "Config":
        """A copy with the given fields replaced; ``None`` values are ignored."""
        return self.replace(**{key: value for key, value in changes.items() if value is not None})


def glob_matches(pattern: str, relative: str, name: str) -> bool:
    """Whether a per-file-ignores glob matches a file (``relative``: its path from the config's folder).

    A pattern without ``/`` matches the file name in any folder. Otherwise it
    matches the relative path: a leading ``./`` anchors it to the config's own folder, and
    ``**/`` matches any number of folders, none included (``**/*.prototxt``
    matches ``net.prototxt`` beside the config). ``*`` matches across ``/``, as
    in Python's fnmatch.
    """
    import fnmatch

    anchored = pattern.startswith("./")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    if "/" not in pattern and not anchored:
        return fnmatch.fnmatchcase(name, pattern)
    candidates = {pattern}
    while any("**/" in candidate for candidate in candidates):
        candidates = {variant for candidate in candidates for variant in _double_star_variants(candidate)}
    return any(fnmatch.fnmatchcase(relative, candidate) for candidate in candidates)


def _double_star_variants(pattern: str) -> Tuple[str, ...]:
    """``**/`` read as "any folders" (``*/``, fnmatch's ``*`` crossing ``/``) and as "no folder"."""
    index = pattern.find("**/")
    if index < 0:
        return (pattern,)
    return (pattern[:index] + "*/" + pattern[index + 3:], pattern[:index] + pattern[index + 3:])


def code_is_selected(code: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """Whether ``code`` is on: the most specific matching prefix decides; ignore wins ties."""
    selected = _longest_match(code, select) if select else 0
    if selected is None:
        return False
    ignored = _longest_match(code, ignore)
    return ignored is None or selected > ignored


def _longest_match(code: str, prefixes: Iterable[str]) -> Optional[int]:
    best: Optional[int] = None
    for prefix in prefixes:
        length = 0 if prefix == "ALL" else len(prefix) if code.startswith(prefix) else None
        if length is not None and (best is None or length > best):
            best = length
    return best


def _relative_posix(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


# ---------------------------------------------------------------------------
# Reading and validating a file
# ---------------------------------------------------------------------------


def load_config_file(path: Path) -> Config:
    """Read ``path`` (a pyproject.toml or a standalone backprop-lint.toml)."""
    table = _read_table(path, required=True)
    assert table is not None
    return parse_table(table, source=path)


def _read_table(path: Path, *, required: bool) -> Optional[Dict[str, Any]]:
    """The backprop-lint table of ``path``; None when a pyproject.toml has none."""
    # imported here: most runs find no configuration file to read
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.9/3.10 only
        import tomli as tomllib

    try:
        raw, _ = read_regular_file(path, lambda head: MAX_CONFIG_BYTES)
        data = tomllib.loads(raw.decode("utf-8"))
    except InputError as err:
        raise ConfigError(err.message, str(path)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"not valid TOML: {err}", str(path)) from None
    except RecursionError:  # the TOML reader recurses once per level of nested arrays or tables
        raise ConfigError(
            "nested too deeply to read (arrays or inline tables inside one another, thousands of levels); "
            "no backprop-lint setting nests more than two levels",
            str(path),
        ) from None
    if path.name != "pyproject.toml":
        return data
    tool = data.get("tool", {})
    table = tool.get(TOOL_TABLE) if isinstance(tool, dict) else None
    if table is None:
        if required:
            raise ConfigError(f"no [tool.{TOOL_TABLE}] table", str(path))
        return None
    if not isinstance(table, dict):
        raise ConfigError("must be a table", str(path), f"tool.{TOOL_TABLE}")
    return table


def parse_table(table: Mapping[str, Any], source: Optional[Path] = None) -> Config:
    """Validate a configuration table (keys as documented above) into a Config."""
    file = str(source) if source else None
    known = {
        "select",
        "ignore",
        "severity",
        "severity-threshold",
        "fail-on",
        "per-file-ignores",
        "need-diff",
        "flavor",
        "build",
        "phase",
        "level",
        "stages",
        "strict",
        "layers",
        "packs",
    }
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown key (known: {', '.join(sorted(known))})", file, key)
    reader = _Reader(table, file)
    return Config(
        select=reader.codes("select"),
        ignore=reader.codes("ignore"),
        severity_overrides=reader.severity_overrides(),
        severity_threshold=reader.choice("severity-threshold", SEVERITIES, "info"),
        fail_on=reader.choice("fail-on", SEVERITIES, "warning"),
        per_file_ignores=reader.per_file_ignores(),
        need_diff=reader.strings("need-diff"),
        flavor=reader.choice("flavor", FLAVORS, "bvlc"),
        build=reader.build(),
        phase=reader.optional_choice("phase", PHASES),
        level=reader.integer("level"),
        stages=reader.strings("stages"),
        strict=reader.boolean("strict"),
        declared_layers=reader.layers(),
        packs=reader.packs(),
        source=source,
    )


class _Reader:
    """Typed access to one table, raising ConfigError naming the key."""

    def __init__(self, table: Mapping[str, Any], file: Optional[str]) -> None:
        self.table = table
        self.file = file

    def _error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, self.file, key)

    def strings(self, key: str) -> Tuple[str, ...]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._error(key, "must be a list of strings")
        return tuple(value)

    def codes(self, key: str, value: Any = None) -> Tuple[str, ...]:
        codes = self.strings(key) if value is None else value
        for code in codes:
            problem = unknown_code_problem(code)
            if problem:
                raise self._error(key, problem)
        return tuple(codes)

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        value = self.optional_choice(key, choices)
        return default if value is None else value

    def optional_choice(self, key: str, choices: Sequence[str]) -> Optional[str]:
        value = self.table.get(key)
        if value is None:
            return None
        if value not in choices:
            raise self._error(key, f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
        return str(value)

    def integer(self, key: str) -> int:
        value = self.table.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._error(key, "must be an integer")
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key, False)
        if not isinstance(value, bool):
            raise self._error(key, "must be true or false")
        return value

    def severity_overrides(self) -> Dict[str, str]:
        table = self.table.get("severity", {})
        if not isinstance(table, dict):
            raise self._error("severity", 'must be a table of CODE = "info" | "warning" | "error"')
        for code, level in table.items():
            if not re.match(r"^BL\d{3}$", code):
                raise self._error(f"severity.{code}", "must be a full rule code like BL301")
            problem = unknown_code_problem(code)
            if problem:
                raise self._error(f"severity.{code}", problem)
            if level not in SEVERITIES:
                raise self._error(f"severity.{code}", f"must be one of {', '.join(SEVERITIES)}, not {level!r}")
        return dict(table)

    def per_file_ignores(self) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        table = self.table.get("per-file-ignores", {})
        if not isinstance(table, dict):
            raise self._error("per-file-ignores", "must be a table of glob = [codes]")
        entries = []
        for pattern, codes in table.items():
            key = f"per-file-ignores.{pattern}"
            if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
                raise self._error(key, "must be a list of rule codes")
            entries.append((pattern, self.codes(key, tuple(codes))))
        return tuple(entries)

    def packs(self) -> Tuple[str, ...]:
        from backprop_lint.caffe.model import InputError
        from backprop_lint.caffe.packs import checked_pack_names

        try:
            return checked_pack_names(self.strings("packs"))
        except InputError as error:
            raise self._error("packs", error.message) from None

    def build(self) -> Dict[str, bool]:
        from backprop_lint.caffe.build_options import check_build_table
        from backprop_lint.caffe.model import InputError

        table = self.table.get("build", {})
        if not isinstance(table, dict):
            raise self._error("build", "must be a table like {opencv = true, cudnn = false}")
        try:
            return check_build_table(table, "build")
        except InputError as error:
            raise self._error("build", str(error).split(": ", 1)[-1]) from None

    def layers(self) -> Dict[str, Dict[str, Any]]:
        table = self.table.get("layers", {})
        if not isinstance(table, dict):
            raise self._error("layers", "must be a table of [layers.TYPE] tables")
        declared: Dict[str, Dict[str, Any]] = {}
        for type_name, spec in table.items():
            key = f"layers.{type_name}"
            if not isinstance(spec, dict):
                raise self._error(key, 'must be a table (e.g. params = 0, backward = "respects-pd")')
            _check_declared_layer(type_name, spec, self.file, key)
            declared[type_name] = dict(spec)
        return declared


def _check_declared_layer(type_name: str, spec: Dict[str, Any], file: Optional[str], key: str) -> None:
    """Let the layer table validate a declaration when it offers a validator."""
    try:
        from backprop_lint.caffe import layer_table
    except ImportError:  # pragma: no cover - layer_table is part of the package
        return
    declare = getattr(layer_table, "declared_layer", None)
    if declare is None:
        return
    try:
        declare(type_name, spec)
    except (ValueError, TypeError, KeyError) as err:
        raise ConfigError(str(err), file, key) from None
    except Exception as err:  # the table's own error classes (e.g. InputError)
        message = getattr(err, "message", None) or str(err)
        raise ConfigError(message, file, key) from None


# ---------------------------------------------------------------------------
# Discovery
# ---------------------------------------------------------------------------


class ConfigFinder:
    """Finds (and caches) the configuration that applies to each file."""

    def __init__(self, explicit: Optional[Path] = None) -> None:
        self._explicit = load_config_file(explicit) if explicit else None
        self._by_dir: Dict[str, Config] = {}

    def for_file(self, path: Union[str, os.PathLike[str]]) -> Config:
        if self._explicit is not None:
            return self._explicit
        return self.for_directory(os.path.dirname(os.path.realpath(path)))

    def for_directory(self, directory: str) -> Config:
        """The configuration of ``directory`` (an absolute path with no symlink in it)."""
        cached = self._by_dir.get(directory)
        if cached is not None:
            return cached
        config = self._config_in(directory)
        if config is None:
            parent = os.path.dirname(directory)
            config = Config() if parent == directory else self.for_directory(parent)
        self._by_dir[directory] = config
        return config

    @staticmethod
    def _config_in(directory: str) -> Optional[Config]:
        # os.path until a file is found: most runs have no configuration file, and need no pathlib
        for name in STANDALONE_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                from pathlib import Path

                return load_config_file(Path(candidate))
        pyproject = os.path.join(directory, "pyproject.toml")
        if os.path.isfile(pyproject):
            from pathlib import Path

            table = _read_table(Path(pyproject), required=False)
            if table is not None:
                return parse_table(table, source=Path(pyproject))
        return None
