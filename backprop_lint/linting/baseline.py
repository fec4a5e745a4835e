"""Baselines: record today's findings, report only new ones from then on.

A model zoo adopting backprop-lint records what it finds today
(``check --write-baseline FILE``); later runs with ``--baseline FILE`` hide
the findings recorded there and report only new ones.

A finding is recorded by its file, code, layer, state and message, never by
its line, so adding or moving lines above it keeps it matched. The file is
stored relative to the baseline's own folder (forward slashes), so the
baseline works from any working directory. A key recorded ``count`` times
hides at most that many findings: a second identical problem is new.

The format (JSON, ``version`` 1; keys sorted, one entry per distinct key)::

    {
      "version": 1,
      "tool": "backprop-lint",
      "findings": [
        {"file": "nets/deploy.prototxt", "code": "BL201", "layer": null,
         "state": "TRAIN, TEST", "message": "...", "count": 1}
      ]
    }
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from backprop_lint.caffe.records import Record
from backprop_lint.linting.findings import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

    #: (file relative to the baseline's folder, code, layer, state, message)
    BaselineKey = Tuple[str, str, Optional[str], str, str]

BASELINE_VERSION = 1


class BaselineError(Exception):
    """The baseline file cannot be read; rendered as one line naming the file."""


class BaselineResult(Record):
    """Findings after a baseline: the new ones kept, the recorded ones hidden."""

    __slots__ = ("kept", "hidden", "stale")
    kept: List[Finding]
    hidden: List[Finding]
    #: recorded findings that no longer occur (fixed since, or their message changed)
    stale: int

    def __init__(self, kept: List[Finding], hidden: Optional[List[Finding]] = None, stale: int = 0) -> None:
        self.kept = kept
        self.hidden = [] if hidden is None else hidden
        self.stale = stale


def key_of(finding: Finding, folder: Path) -> BaselineKey:
    return (
        _relative_to(finding.location.file, folder),
        finding.code,
        finding.layer,
        finding.state,
        finding.message,
    )


def _relative_to(file: str, folder: Path) -> str:
    if file.startswith("<"):  # <stdin>, <string>: no path to relate
        return file
    try:
        return Path(file).resolve().relative_to(folder.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(file).as_posix()


def baseline_document(findings: Sequence[Finding], baseline_path: Path) -> Dict[str, Any]:
    counts = Counter(key_of(finding, baseline_path.parent) for finding in findings)
    entries = [
        {"file": file, "code": code, "layer": layer, "state": state, "message": message, "count": count}
        for (file, code, layer, state, message), count in sorted(counts.items(), key=lambda item: _sort_key(item[0]))
    ]
    return {"version": BASELINE_VERSION, "tool": "backprop-lint", "findings": entries}


def baseline_text(findings: Sequence[Finding], baseline_path: Path) -> str:
    return json.dumps(baseline_document(findings, baseline_path), indent=2, ensure_ascii=False) + "\n"


def _sort_key(key: BaselineKey) -> Tuple[str, str, str, str, str]:
    file, code, layer, state, message = key
    return (file, code, layer or "", state, message)


def load_baseline(path: Path) -> "Counter[BaselineKey]":
    """The recorded keys of ``path`` with their counts; BaselineError when it is not a baseline."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise BaselineError(f"{path}: error: cannot read the baseline: {err.strerror or err}") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise BaselineError(f"{path}: error: the baseline is not valid JSON: {err}") from None
    if not isinstance(document, dict) or document.get("version") != BASELINE_VERSION:
        raise BaselineError(
            f"{path}: error: not a backprop-lint baseline (version {BASELINE_VERSION}); "
            "write one with `backprop-lint check --write-baseline FILE`"
        )
    entries = document.get("findings")
    if not isinstance(entries, list):
        raise BaselineError(f"{path}: error: the baseline has no `findings` list")
    counts: "Counter[BaselineKey]" = Counter()
    for index, entry in enumerate(entries):
        key = _entry_key(entry)
        if key is None:
            raise BaselineError(
                f"{path}: error: findings[{index}] needs string `file`, `code`, `state`, `message`, "
                "a string or null `layer` and a positive integer `count`"
            )
        counts[key] += entry["count"]
    return counts


def _entry_key(entry: Any) -> Optional[BaselineKey]:
    if not isinstance(entry, dict):
        return None
    strings = [entry.get(name) for name in ("file", "code", "state", "message")]
    layer = entry.get("layer")
    count = entry.get("count")
    if not all(isinstance(value, str) for value in strings) or not (layer is None or isinstance(layer, str)):
        return None
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return None
    file, code, state, message = strings
    return (file, code, layer, state, message)


def apply_baseline(
    findings: Sequence[Finding],
    recorded: "Counter[BaselineKey]",
    baseline_path: Path,
    checked_files: Sequence[str] = (),
) -> BaselineResult:
    """Hide the findings the baseline records (each key at most ``count`` times).

    ``stale`` counts recorded findings of the ``checked_files`` that did not occur.
    """
    remaining = Counter(recorded)
    result = BaselineResult(kept=[])
    for finding in findings:
        key = key_of(finding, baseline_path.parent)
        if remaining[key] > 0:
            remaining[key] -= 1
            result.hidden.append(finding)
        else:
            result.kept.append(finding)
    checked = {_relative_to(file, baseline_path.parent) for file in checked_files}
    result.stale = sum(count for key, count in remaining.items() if count > 0 and key[0] in checked)
    return result
