"""The rule pages' layout: ``rules/<CODE>.md``, the one copy of each page.

The wheel ships the top-level ``rules/`` folder as ``backprop_lint/rule_docs/``
(``pyproject.toml`` maps it there); a checkout reads ``rules/`` itself.

Every page has the same sections (see ``SECTIONS``); its *Example* and *Use
instead* blocks are complete nets that the tests run through the pipeline.
An HTML comment ``<!-- example: key=value ... -->`` (or ``<!-- use-instead:
... -->``) gives the options those runs need, e.g. ``phase=TEST``,
``need_diff=data``, ``flavor=ssd``, ``declare=mod.Layer:params=0``.
"""
from __future__ import annotations

import re
from pathlib import Path

from backprop_lint.caffe.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Iterable, List, Optional, Tuple

_PACKAGE_DIR = Path(__file__).resolve().parents[2]
#: ``rules/`` beside the package in a checkout (editable installs included)
CHECKOUT_PAGES = _PACKAGE_DIR.parent / "rules"
#: where an installed wheel has the same pages
INSTALLED_PAGES = _PACKAGE_DIR / "rule_docs"

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix", "References")

_HEADING = re.compile(r"^## (.+?)\s*$", re.MULTILINE)
_BLOCK = re.compile(r"```prototxt\n(.*?)```", re.DOTALL)
_OPTIONS = re.compile(r"<!--\s*(example|use-instead):(.*?)-->", re.DOTALL)


class RulePage(Record):
    """A rule's Markdown page, cut into its sections and example nets."""

    __slots__ = ("code", "name", "text", "sections", "example", "use_instead", "example_options",
                 "use_instead_options")
    code: str
    name: str
    text: str
    sections: Dict[str, str]
    example: str
    use_instead: str
    example_options: Dict[str, str]
    use_instead_options: Dict[str, str]

    def __init__(
        self,
        code: str,
        name: str,
        text: str,
        sections: Optional[Dict[str, str]] = None,
        example: str = "",
        use_instead: str = "",
        example_options: Optional[Dict[str, str]] = None,
        use_instead_options: Optional[Dict[str, str]] = None,
    ) -> None:
        self.code = code
        self.name = name
        self.text = text
        self.sections = {} if sections is None else sections
        self.example = example
        self.use_instead = use_instead
        self.example_options = {} if example_options is None else example_options
        self.use_instead_options = {} if use_instead_options is None else use_instead_options


def pages_dir() -> Path:
    """The folder holding the rule pages: the checkout's ``rules/``, else the installed copy."""
    if (CHECKOUT_PAGES / "BL000.md").is_file():
        return CHECKOUT_PAGES
    return INSTALLED_PAGES


def page_path(code: str) -> Optional[Path]:
    """The page of rule ``code`` (``BL202``), or None if there is none."""
    candidate = pages_dir() / f"{code.upper()}.md"
    return candidate if candidate.is_file() else None


def parse_page(text: str) -> RulePage:
    """Split a page into its title and sections; pull out the nets and their options."""
    title = text.split("\n", 1)[0]
    match = re.match(r"^# (BL\d{3}) ([a-z0-9-]+)\s*$", title)
    if match is None:
        raise ValueError(f"a rule page starts with '# BLnnn rule-name', not {title!r}")
    page = RulePage(code=match.group(1), name=match.group(2), text=text)
    headings = list(_HEADING.finditer(text))
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        page.sections[heading.group(1)] = text[heading.end():end].strip()
    page.example = _first_block(page.sections.get("Example", ""))
    page.use_instead = _first_block(page.sections.get("Use instead", ""))
    for kind, body in _OPTIONS.findall(text):
        options = dict(item.split("=", 1) for item in body.split())
        if kind == "example":
            page.example_options = options
        else:
            page.use_instead_options = options
    return page


def _first_block(section: str) -> str:
    match = _BLOCK.search(section)
    return match.group(1) if match else ""


def all_pages(directory: Path) -> List[Path]:
    return sorted(directory.glob("BL*.md"))


def catalogue_index(rules: Iterable[Tuple[str, str, str, str]]) -> str:
    """``rules/README.md``: one table row per (code, name, severity, summary)."""
    lines = [
        "# Rules",
        "",
        "One page per rule; `backprop-lint explain CODE` prints it. Codes are stable and never reused.",
        "",
        "| Code | Name | Default severity | What it reports |",
        "|---|---|---|---|",
    ]
    lines += [f"| [{code}]({code}.md) | {name} | {severity} | {summary} |" for code, name, severity, summary in rules]
    return "\n".join(lines) + "\n"
