"""A ``GraphView`` as Graphviz DOT text (needs nothing installed).

Layers are rounded boxes filled with their backward state's colour, blobs are
ellipses (red and dashed when their diff stays zero), edges carrying a
gradient are drawn solid and dark, ``propagate_down: false`` edges red and
dashed. Every node has an ``id`` (``L<layer index>``, ``B<n>``, ``legend_<key>``)
that Graphviz copies into the SVG, and a ``tooltip`` with its reasons.
"""
from __future__ import annotations

import textwrap

from backprop_lint.report.graph.view import (
    DIFF_UNKNOWN,
    DIFF_ZERO,
    LAYER_STATES,
    STATE_BY_KEY,
    BlobNode,
    GraphView,
    LayerNode,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List

ZERO_DIFF_COLOR = "#c62828"
UNKNOWN_DIFF_COLOR = "#f57f17"
READ_COLOR = "#6a1b9a"
GRADIENT_COLOR = "#1b5e20"
NO_GRADIENT_COLOR = "#9e9e9e"
DIM_ALPHA = "55"  # the alpha of dimmed layers' colours (skipped or outside the --start/--end range)
FONT = "Helvetica"
HEADING_WIDTH = 110  # characters per line of the picture's heading
SEVERITY_MARK = {"error": "\u2716", "warning": "\u26a0", "info": "\u2139"}


def xml_escaped(text: str) -> str:
    """``text`` with ``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape`` does it (which imports
    ``urllib.request``, and with it ``http`` and ``email``: more than the rest of ``graph``'s start-up)."""
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoted(text: str) -> str:
    """A DOT double-quoted string whose content Graphviz shows literally."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r", "").replace("\n", "\\n") + '"'


def label(lines: List[str], justify: str = "n") -> str:
    """A multi-line label: each line escaped, ended by Graphviz's line break (``n`` centred, ``l`` left)."""
    escaped = [line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", "") for line in lines]
    if justify == "n":
        return '"' + "\\n".join(escaped) + '"'
    return '"' + "".join(line + "\\" + justify for line in escaped) + '"'


def tooltip(lines: List[str]) -> str:
    return quoted("\n".join(lines))


def to_dot(view: GraphView) -> str:
    out: List[str] = [f"digraph {quoted(view.title)} {{"]
    heading = [f"{view.title}  ({view.file}, {view.state}, force_backward: {str(view.force_backward).lower()})"]
    heading += view.call_summary
    heading += [f"{SEVERITY_MARK.get(note.severity, '')} {note.code} {note.message}" for note in view.net_findings]
    heading = [part for line in heading for part in textwrap.wrap(line, HEADING_WIDTH, subsequent_indent="    ")]
    out.append(
        f"  graph [rankdir=TB, fontname={quoted(FONT)}, fontsize=12, labelloc=t, labeljust=l, "
        f"nodesep=0.25, ranksep=0.3, label={label(heading, justify='l')}];"
    )
    out.append(f"  node [fontname={quoted(FONT)}, fontsize=10];")
    out.append(f"  edge [fontname={quoted(FONT)}, arrowsize=0.6];")
    for layer in view.layers:
        out.append(f"  {layer.id} [{_layer_attributes(layer)}];")
    for blob in view.blobs:
        out.append(f"  {blob.id} [{_blob_attributes(blob)}];")
    for edge in view.edges:
        if edge.kind == "gradient":
            style = f'color="{GRADIENT_COLOR}", penwidth=1.6'
        elif edge.kind == "cut":
            style = f'color="{ZERO_DIFF_COLOR}", style=dashed, arrowhead=tee, penwidth=1.4'
        else:
            style = f'color="{NO_GRADIENT_COLOR}"'
        out.append(f'  {edge.tail} -> {edge.head} [class="edge-{edge.kind}", {style}];')
    out.extend(_legend())
    out.append("}")
    return "\n".join(out) + "\n"


def _layer_attributes(layer: LayerNode) -> str:
    state = STATE_BY_KEY[layer.state]
    fill, border, font = state.fill, state.border, "#000000"
    lines = [layer.name, f"({layer.type})"]
    lines += [f"{SEVERITY_MARK.get(note.severity, '')} {note.code}" for note in layer.findings]
    penwidth = "1.2"
    style = "rounded,filled"
    if layer.call in ("skipped", "outside"):
        fill, border, font = fill + DIM_ALPHA, border + DIM_ALPHA, "#00000077"
        style += ",dashed" if layer.call == "skipped" else ""
    elif layer.call == "runs":
        border, penwidth = READ_COLOR, "3"
    classes = f"layer state-{layer.state}" + (f" call-{layer.call}" if layer.call else "")
    classes += " has-findings" if layer.findings else ""
    return (
        f"id={quoted(layer.id)}, class={quoted(classes)}, shape=box, style={quoted(style)}, "
        f'fillcolor="{fill}", color="{border}", fontcolor="{font}", penwidth={penwidth}, '
        f"label={label(lines)}, tooltip={tooltip(layer.reasons + _finding_lines(layer))}"
    )


def _blob_attributes(blob: BlobNode) -> str:
    lines = [blob.name]
    color, style, penwidth, font = "#424242", "filled", "1", "#000000"
    if blob.diff == DIFF_ZERO:
        lines.append("diff stays 0")
        color, style, penwidth, font = ZERO_DIFF_COLOR, "filled,dashed", "1.6", ZERO_DIFF_COLOR
    elif blob.diff == DIFF_UNKNOWN:
        lines.append("diff unknown")
        color, font = UNKNOWN_DIFF_COLOR, UNKNOWN_DIFF_COLOR
    if blob.loss_weight:
        lines.append(f"loss weight {blob.loss_weight:g}")
    if blob.seeded:
        lines.append("seeded")
    peripheries = "1"
    if blob.read:
        lines.append({"nonzero": "read: non-zero", "zero": "read: ZERO", "unknown": "read: unknown"}[blob.read])
        color, peripheries, penwidth = READ_COLOR, "2", "2"
    lines += [f"{SEVERITY_MARK.get(note.severity, '')} {note.code}" for note in blob.findings]
    classes = f"blob diff-{blob.diff}" + (f" read-{blob.read}" if blob.read else "")
    classes += " has-findings" if blob.findings else ""
    return (
        f"id={quoted(blob.id)}, class={quoted(classes)}, shape=ellipse, style={quoted(style)}, "
        f'fillcolor="#ffffff", color="{color}", fontcolor="{font}", penwidth={penwidth}, '
        f"peripheries={peripheries}, fontsize=9, label={label(lines)}, "
        f"tooltip={tooltip(blob.reasons + _finding_lines(blob))}"
    )


def _finding_lines(node: object) -> List[str]:
    lines: List[str] = []
    for note in getattr(node, "findings", []):
        lines.append(f"{note.code} ({note.severity}): {note.message}")
        if note.fix:
            lines.append(f"fix: {note.fix}")
    return lines


LEGEND_COLUMNS = 2


def _legend() -> List[str]:
    """One free node (no rank constraint, which would cost Graphviz a lot on large nets): a table with a
    cell per layer state in its colours, then the blob and arrow markers."""
    cells = [
        f'<TD BGCOLOR="{state.fill}" COLOR="{state.border}" STYLE="rounded">{xml_escaped(state.legend)}</TD>'
        for state in LAYER_STATES
    ]
    cells += [
        f'<TD COLOR="{ZERO_DIFF_COLOR}"><FONT COLOR="{ZERO_DIFF_COLOR}">blob: its diff stays 0</FONT></TD>',
        f'<TD COLOR="{READ_COLOR}"><FONT COLOR="{READ_COLOR}">blob you read (--read)</FONT></TD>',
        f'<TD BORDER="0"><FONT COLOR="{GRADIENT_COLOR}">dark arrow: a gradient flows back</FONT></TD>',
        f'<TD BORDER="0"><FONT COLOR="{ZERO_DIFF_COLOR}">red dashed arrow: propagate_down: false</FONT></TD>',
    ]
    rows = ["<TR>" + "".join(cells[i:i + LEGEND_COLUMNS]) + "</TR>" for i in range(0, len(cells), LEGEND_COLUMNS)]
    table = (f'<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="3" CELLPADDING="3">'
             f'<TR><TD BORDER="0" COLSPAN="{LEGEND_COLUMNS}"><B>Legend</B></TD></TR>{"".join(rows)}</TABLE>')
    return [f'  legend [id="legend", class="legend", shape=plaintext, fontsize=9, label=<{table}>];']
