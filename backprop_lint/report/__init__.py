"""Reporters: findings -> text (for people) / json, sarif, github (for machines).

Each format lives in its own module with one entry point,
``render(report, stream, ...)``; the text reporter is the only one that knows
about rich, colour or terminals.

The ``graph`` subpackage draws the net itself, coloured by what backward does
(DOT, SVG through Graphviz, a self-contained HTML page).

It may import the linter (``backprop_lint.linting``), the backward planner and
the model of Caffe; only the command line imports it.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import List, Optional, Sequence

FORMATS = ("text", "concise", "json", "sarif", "github")

#: the project's home page (SARIF informationUri): ``[project.urls] Homepage`` in pyproject.toml
PROJECT_URL = "https://github.com/backprop-lint/backprop-lint"
#: where the rule pages (top-level ``rules/``) are published: ``[project.urls] Rules``
RULES_URL = PROJECT_URL + "/blob/main/rules"
#: each rule's page; ``{code}`` is replaced by the rule's code
RULE_PAGE_URL = RULES_URL + "/{code}.md"


def rule_page_url(code: str) -> str:
    return RULE_PAGE_URL.format(code=code)


def relative_uri(file: str, base: Optional[Path] = None) -> str:
    """``file`` as a forward-slash path relative to ``base`` (default: cwd) when it is inside it."""
    from pathlib import Path  # for SARIF and GitHub output only

    path = Path(file)
    base = (base or Path.cwd()).resolve()
    try:
        return path.resolve().relative_to(base).as_posix()
    except (ValueError, OSError):
        return path.as_posix()


def reason_chain(reasons: Sequence[str]) -> List[str]:
    """A finding's reasons as lines: ``because`` the first, ``→`` each consequence after it."""
    return [("because " if index == 0 else "→ ") + reason for index, reason in enumerate(reasons)]
