"""Options declared once, read by argparse or, for plain command lines, without it.

``simulate``, ``backward``, ``check``, ``graph`` and ``verify`` declare their
options as ``Option`` records. ``add_options`` hands them to argparse, which
reads every command line and owns ``--help``, usage errors and their
messages. ``read_plainly`` reads the same declarations without argparse when
a command line is plain:

* after the command, every token is either a positional value (not empty, not
  starting with ``-``) or an option spelled out in full, followed, unless it
  is a flag, by a value that is not empty and does not start with ``-``;
* every value converts and is one of its choices;
* the command's one positional argument is there, or, for ``check``'s paths
  (``Positionals``), the values are given together, all before the options or
  all after them.

Anything else (``--help``, ``--phase=TEST``, an abbreviation, a value
starting with ``-``, an invalid choice, a missing or extra argument, an option
declared ``plain=False``) returns None, and the caller asks argparse, which
gives it its usual meaning or its usual error. Where both read a command
line, they give the same namespace: ``tests/test_quickargs.py`` compares them
on generated command lines.

Why a second reader: importing argparse (with ``gettext`` and ``locale``) and
building a parser costs about 16 M instructions, 6 % of ``simulate`` on
DenseNet-201; and argparse before Python 3.13 takes time quadratic in the
number of options (10,000 ``--seed``: 2.4 s), where this reading is linear.
"""
from __future__ import annotations

from types import SimpleNamespace

from backprop_lint.caffe.records import LazyNamedTuple, NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

    #: options by --help group: (title, options), the title None for the parser's own "options"
    OptionGroups = Tuple[Tuple[Optional[str], Tuple["Option", ...]], ...]

#: ``Option.kind``: one value (the last one given wins), a value per occurrence, or present / absent
VALUE, APPEND, FLAG = "value", "append", "flag"


class Option(NamedTuple):
    """One option, as ``parser.add_argument`` takes it; ``flags``: its spellings as --help lists them,
    e.g. ``"--phase"`` or ``"-q, --quiet"``."""

    flags: str
    kind: str
    help: str
    default: Any = None
    convert: Optional[Callable[[str], Any]] = None  # argparse's ``type``
    choices: Optional[Tuple[str, ...]] = None
    metavar: Optional[str] = None
    #: False: a command line with this option always goes to argparse (its ``convert`` reports
    #: errors as argparse.ArgumentTypeError)
    plain: bool = True

    @property
    def spellings(self) -> List[str]:
        return self.flags.split(", ")

    @property
    def dest(self) -> str:
        """argparse's: the first long spelling (else the first), without its dashes, ``-`` as ``_``."""
        spellings = self.spellings
        chosen = next((flag for flag in spellings if flag.startswith("--")), spellings[0])
        return chosen.lstrip("-").replace("-", "_")


def add_options(parser: Any, options: Sequence[Option]) -> None:
    """``parser.add_argument`` for each option (``parser``: a parser or an argument group)."""
    for option in options:
        settings: Dict[str, Any] = {"help": option.help, "default": option.default}
        if option.kind == FLAG:
            settings["action"] = "store_true"
        else:
            if option.kind == APPEND:
                settings["action"] = "append"
            for name in ("convert", "choices", "metavar"):
                value = getattr(option, name)
                if value is not None:
                    settings["type" if name == "convert" else name] = value
        parser.add_argument(*option.spellings, **settings)


def add_option_groups(parser: Any, groups: OptionGroups) -> None:
    """``add_options`` for each (--help group title, options); the title None is the parser's own
    "options", and a title that comes back adds to the group it named first."""
    made: Dict[str, Any] = {}
    for title, options in groups:
        if title is None:
            add_options(parser, options)
            continue
        if title not in made:
            made[title] = parser.add_argument_group(title)
        add_options(made[title], options)


def all_options(groups: OptionGroups) -> Tuple[Option, ...]:
    """The options of ``groups``, in order."""
    return tuple(option for _, options in groups for option in options)


class Positionals(LazyNamedTuple):
    """A positional argument taking any number of values (``nargs="*"``): its name and default.

    Lazy: only ``check`` makes one, so ``simulate`` does not compile its constructor."""

    name: str
    default: List[str]


def read_plainly(
    argv: Sequence[str],
    positional: Union[str, Positionals],
    options: Sequence[Option],
    handler: Callable[[argparse.Namespace], int],
) -> Optional[argparse.Namespace]:
    """``argv`` (``[command, ...]``) read as argparse reads it, or None when it is not plain (see the module).

    ``positional``: the name of the one positional argument, or ``Positionals``, whose values
    must then be given together (all before the options or all after them).
    """
    by_flag = {flag: option for option in options for flag in option.spellings}
    values: Dict[str, Any] = {}
    for option in options:
        default = option.default
        if isinstance(default, str) and option.convert is not None:
            default = option.convert(default)  # as argparse converts a string default
        values[option.dest] = list(default) if isinstance(default, list) else default
    appended: Dict[str, List[Any]] = {}
    found: List[str] = []
    options_before = options_after = False  # whether options come before / after the positional values
    i, n = 1, len(argv)
    while i < n:
        token = argv[i]
        if not token:
            return None
        if token[0] != "-":
            if options_after:
                return None
            found.append(token)
            i += 1
            continue
        if found:
            options_after = True
        else:
            options_before = True
        declared = by_flag.get(token)
        if declared is None or not declared.plain:
            return None
        option = declared
        if option.kind == FLAG:
            values[option.dest], i = True, i + 1
            continue
        if i + 1 == n or not argv[i + 1] or argv[i + 1][0] == "-":
            return None
        value: Any = argv[i + 1]
        if option.convert is not None:
            try:
                value = option.convert(value)
            except Exception:  # noqa: BLE001 - argparse reports a value its type refuses
                return None
        if option.choices is not None and value not in option.choices:
            return None
        if option.kind == APPEND:
            if option.dest not in appended:  # argparse appends to a copy of the default
                appended[option.dest] = values[option.dest] = list(option.default or ())
            appended[option.dest].append(value)
        else:
            values[option.dest] = value
        i += 2
    if isinstance(positional, Positionals):
        if found and options_before and options_after:
            return None
        values[positional.name] = found or list(positional.default)
    elif len(found) == 1:
        values[positional] = found[0]
    else:
        return None
    return SimpleNamespace(command=argv[0], handler=handler, **values)  # type: ignore[return-value]
