"""Layout by Graphviz's ``dot`` (when installed), and the reasons in each node's SVG ``<title>``.

Graphviz writes ``<title>L3</title>`` (the node's DOT name) into every node;
browsers show a ``<title>`` when the pointer rests on the node, so it is
replaced by the node's chain of reasons.
"""
from __future__ import annotations

import re
import shutil

from backprop_lint.report.graph.dot import to_dot, xml_escaped
from backprop_lint.report.graph.view import GraphView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, Optional

INSTALL_HINT = (
    "install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`, "
    "conda: `conda install graphviz`), or write `-o FILE.dot`, which needs nothing"
)
#: a large net (ResNet-269: about 2,700 nodes) lays out in seconds; this is only a guard against a hang
DOT_TIMEOUT_SECONDS = 300

_NODE_TITLE = re.compile(r'(<g id="(?P<id>[^"]+)" class="[^"]*node[^"]*">\s*<title>)(?P<title>[^<]*)(</title>)')


class GraphvizMissing(Exception):
    def __init__(self, target: str) -> None:
        super().__init__(f"drawing {target} needs Graphviz's `dot`, which is not on PATH: {INSTALL_HINT}")


class GraphvizFailed(Exception):
    pass


def find_dot() -> Optional[str]:
    return shutil.which("dot")


def titles_of(view: GraphView) -> Dict[str, str]:
    """Node id -> its hover text."""
    titles: Dict[str, str] = {}
    for layer in view.layers:
        lines = [f"{layer.name} ({layer.type})", *layer.reasons]
        lines += [f"{note.code} ({note.severity}): {note.message}" for note in layer.findings]
        titles[layer.id] = "\n".join(lines)
    for blob in view.blobs:
        lines = [f"blob {blob.name}" + (f" (Caffe's {blob.blob})" if blob.blob != blob.name else ""), *blob.reasons]
        lines += [f"{note.code} ({note.severity}): {note.message}" for note in blob.findings]
        titles[blob.id] = "\n".join(lines)
    return titles


def render_svg(view: GraphView, target: str = "the picture") -> str:
    """The SVG of ``view``; raises GraphvizMissing when ``dot`` is not installed."""
    dot = find_dot()
    if dot is None:
        raise GraphvizMissing(target)
    import subprocess  # here, not at import: a DOT picture needs no Graphviz run

    try:
        process = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(view).encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise GraphvizFailed(f"Graphviz's `dot` took more than {DOT_TIMEOUT_SECONDS} s; "
                             f"write `-o FILE.dot` and lay it out yourself") from error
    if process.returncode != 0:
        first_line = process.stderr.decode("utf-8", "replace").strip().splitlines()[:1]
        raise GraphvizFailed(f"Graphviz's `dot` failed: {first_line[0] if first_line else process.returncode}")
    return with_titles(process.stdout.decode("utf-8"), titles_of(view))


def with_titles(svg: str, titles: Dict[str, str]) -> str:
    def replace(match: "re.Match[str]") -> str:
        text = titles.get(match.group("id"))
        if text is None:
            return match.group(0)
        return match.group(1) + xml_escaped(text) + match.group(4)

    return _NODE_TITLE.sub(replace, svg)
