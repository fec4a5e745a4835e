"""One self-contained HTML page: the SVG inline, a side panel with each node's findings and fixes.

No external URL, font or script: the page works offline and from a file. The
node details travel as JSON in a ``<script type="application/json">`` block
and are put on the page with ``textContent`` only, so a layer name can never
become markup.
"""
from __future__ import annotations

import json
import re

from backprop_lint.report.graph.dot import xml_escaped
from backprop_lint.report.graph.view import STATE_BY_KEY, FindingNote, GraphView

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

_PROLOG = re.compile(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", re.DOTALL)

STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 8px 14px; border-bottom: 1px solid #ddd; background: #fafafa; }
header h1 { font-size: 17px; margin: 0; }
header p { margin: 2px 0 0; color: #555; font-size: 13px; }
main { flex: 1; display: flex; min-height: 0; }
#picture { flex: 1; overflow: auto; padding: 8px; }
#picture svg { display: block; }
#picture g.node { cursor: pointer; }
#picture g.node.selected path, #picture g.node.selected polygon, #picture g.node.selected ellipse {
  stroke: #6a1b9a; stroke-width: 4px; }
#picture g.node:focus { outline: none; }
aside { width: 380px; overflow: auto; border-left: 1px solid #ddd; padding: 10px 14px; font-size: 13px;
  background: #fff; }
aside h2 { font-size: 15px; margin: 4px 0 6px; word-break: break-all; }
aside h3 { font-size: 13px; margin: 12px 0 4px; }
aside ul { margin: 4px 0; padding-left: 18px; }
aside li { margin: 2px 0; }
.state { display: inline-block; padding: 1px 6px; border-radius: 4px; border: 1px solid #999; }
.finding { border-left: 4px solid #999; padding: 4px 8px; margin: 8px 0; background: #fafafa; }
.finding.error { border-color: #c62828; } .finding.warning { border-color: #ef6c00; }
.finding.info { border-color: #1565c0; }
.finding .code { font-weight: bold; }
pre { white-space: pre-wrap; word-break: break-all; background: #f1f1f1; padding: 4px 6px; margin: 4px 0; }
.hint { color: #666; }
"""

SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var title = document.getElementById("panel-title");
  var body = document.getElementById("panel-body");
  function add(parent, tag, className, text) {
    var element = document.createElement(tag);
    if (className) { element.className = className; }
    if (text !== undefined) { element.textContent = text; }
    parent.appendChild(element);
    return element;
  }
  function list(parent, lines) {
    var ul = add(parent, "ul");
    lines.forEach(function (line) { add(ul, "li", "", line); });
  }
  function findings(parent, notes) {
    notes.forEach(function (note) {
      var box = add(parent, "div", "finding " + note.severity);
      add(box, "span", "code", note.code + " " + note.name);
      add(box, "span", "", " (" + note.severity + ") " + note.location);
      add(box, "p", "", note.message);
      if (note.reasons.length) { list(box, note.reasons); }
      if (note.fix) {
        add(box, "p", "", (note.fix_safe ? "Fix: " : "Fix (not applied by --fix): ") + note.fix);
        note.fix_text.forEach(function (edit) { add(box, "pre", "", edit); });
      }
    });
  }
  function showNet() {
    title.textContent = data.net.title;
    body.textContent = "";
    add(body, "p", "", data.net.file + ", " + data.net.state);
    if (data.net.summary.length) { list(body, data.net.summary); }
    if (data.net.findings.length) { add(body, "h3", "", "Findings on the whole net"); findings(body, data.net.findings); }
    add(body, "p", "hint", "Click a layer or a blob to see why backward treats it as it does.");
  }
  function show(id) {
    var node = data.nodes[id];
    if (!node) { return; }
    document.querySelectorAll("#picture g.node.selected").forEach(function (g) { g.classList.remove("selected"); });
    var g = document.getElementById(id);
    if (g) { g.classList.add("selected"); }
    title.textContent = node.title;
    body.textContent = "";
    var state = add(body, "p");
    var badge = add(state, "span", "state", node.state);
    badge.style.background = node.fill;
    add(body, "h3", "", "Why");
    list(body, node.reasons);
    if (node.findings.length) { add(body, "h3", "", "Findings"); findings(body, node.findings); }
    var back = add(body, "p", "hint", "\\u2190 the whole net");
    back.style.cursor = "pointer";
    back.addEventListener("click", function () { location.hash = ""; });
  }
  document.querySelectorAll("#picture g.node").forEach(function (g) {
    if (!data.nodes[g.id]) { return; }
    g.setAttribute("tabindex", "0");
    g.addEventListener("click", function () { location.hash = g.id; });
    g.addEventListener("keydown", function (event) { if (event.key === "Enter") { location.hash = g.id; } });
  });
  function showFromHash() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (data.nodes[id]) { show(id); } else { showNet(); }
  }
  window.addEventListener("hashchange", showFromHash);
  showFromHash();
  document.body.setAttribute("data-ready", "true");
})();
"""

ERROR_TRAP = """
window.addEventListener("error", function (event) {
  document.documentElement.setAttribute("data-script-error", String(event.message));
});
"""


def _note(note: FindingNote) -> Dict[str, Any]:
    return {
        "code": note.code,
        "name": note.name,
        "severity": note.severity,
        "location": note.location,
        "message": note.message,
        "reasons": list(note.reasons),
        "fix": note.fix,
        "fix_text": list(note.fix_text),
        "fix_safe": note.fix_safe,
    }


def page_data(view: GraphView) -> Dict[str, Any]:
    nodes: Dict[str, Any] = {}
    for layer in view.layers:
        state = STATE_BY_KEY[layer.state]
        call = {"runs": "; runs in the call", "skipped": "; skipped by the call",
                "outside": "; outside the call's range"}.get(layer.call, "")
        nodes[layer.id] = {
            "title": f"{layer.name} ({layer.type})",
            "state": state.legend + call,
            "fill": state.fill,
            "reasons": layer.reasons + ([f"defined at {layer.location}"] if layer.location else []),
            "findings": [_note(note) for note in layer.findings],
        }
    for blob in view.blobs:
        diff = {"nonzero": "diff non-zero after Backward()", "zero": "diff stays 0",
                "unknown": "diff unknown"}[blob.diff]
        nodes[blob.id] = {
            "title": f"blob {blob.name}",
            "state": diff,
            "fill": "#ffffff" if blob.diff == "nonzero" else "#ffcdd2" if blob.diff == "zero" else "#fff59d",
            "reasons": blob.reasons + ([f"Caffe names this copy `{blob.blob}`"] if blob.blob != blob.name else []),
            "findings": [_note(note) for note in blob.findings],
        }
    return {
        "net": {
            "title": view.title,
            "file": view.file,
            "state": view.state,
            "summary": view.call_summary,
            "findings": [_note(note) for note in view.net_findings],
        },
        "nodes": nodes,
    }


def inline_svg(svg: str) -> str:
    """Graphviz's SVG document as an element for an HTML page (no prolog, DTD or comments)."""
    return _PROLOG.sub("", svg).strip()


def _script_json(document: Any) -> str:
    # "</script>" or "<!--" inside a layer name must not end the block
    return json.dumps(document, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")


def render_html(view: GraphView, svg: str) -> str:
    lines: List[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{xml_escaped(view.title)}: gradient flow (backprop-lint)</title>",
        f"<script>{ERROR_TRAP}</script>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{xml_escaped(view.title)}: what Caffe's backward does</h1>",
        f"<p>{xml_escaped(view.file)}, {xml_escaped(view.state)}, force_backward: {str(view.force_backward).lower()}. "
        "Hover over a node for its reasons; click it for its findings and fixes.</p>",
        "</header>",
        "<main>",
        f'<div id="picture">{inline_svg(svg)}</div>',
        '<aside id="panel"><h2 id="panel-title"></h2><div id="panel-body"></div></aside>',
        "</main>",
        f'<script type="application/json" id="graph-data">{_script_json(page_data(view))}</script>',
        f"<script>{SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(lines) + "\n"
