"""`backprop-lint graph` and `check --graph`: the picture of the net, coloured by backward state.

The DOT text is parsed structurally here (no Graphviz needed); the SVG tests
need Graphviz's `dot`, the page tests also real headless Chromium (Debian
`chromium`); each skips with its reason when the program is missing.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from backprop_lint.backward.plan import plan_backward
from backprop_lint.caffe.pipeline import prepare, simulate
from backprop_lint.linting.linter import lint
from backprop_lint.report.graph.dot import to_dot
from backprop_lint.report.graph.view import LAYER_STATES, STATE_BY_KEY, build_view, layer_state

REPO = Path(__file__).resolve().parent.parent
ALL_STATES = REPO / "fixtures" / "graph" / "all_states.prototxt"
FCN = REPO / "fixtures" / "backward" / "fcn_deploy.prototxt"
README_PICTURE = REPO / "docs" / "fcn_deploy.svg"
#: the command that made README_PICTURE, run from the repository root
README_PICTURE_ARGS = ["graph", "fixtures/backward/fcn_deploy.prototxt", "--splits", "--need-diff", "data"]
SVG_NS = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's `dot` is not installed (apt-get install graphviz)")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


def run_cli(*args: str, cwd: Path = REPO, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backprop_lint", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------
# A small DOT reader: enough of the grammar for what Graphviz accepts from us
# ---------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(->|[{}\[\];=,])|("(?:[^"\\]|\\.)*")|([A-Za-z_0-9.]+))', re.DOTALL)


def _tokens(text: str) -> List[str]:
    tokens: List[str] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        if text[position] == "<":  # an HTML string: balanced angle brackets
            depth, start = 0, position
            while True:
                depth += {"<": 1, ">": -1}.get(text[position], 0)
                position += 1
                if depth == 0:
                    break
            tokens.append(text[start:position])
            continue
        match = _TOKEN.match(text, position)
        assert match, f"not DOT at {text[position:position + 40]!r}"
        tokens.append(match.group(1) or match.group(2) or match.group(3))
        position = match.end()
    return tokens


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r'\\(.)', lambda m: {"n": "\n", "l": "\n"}.get(m.group(1), m.group(1)), token[1:-1])
    return token


def parse_dot(text: str) -> Tuple[Dict[str, Dict[str, str]], List[Tuple[str, str, Dict[str, str]]]]:
    """(nodes: id -> attributes, edges: (tail, head, attributes)) of a digraph."""
    tokens = _tokens(text)
    assert tokens[0] == "digraph" and tokens[2] == "{" and tokens[-1] == "}"
    nodes: Dict[str, Dict[str, str]] = {}
    edges: List[Tuple[str, str, Dict[str, str]]] = []
    i = 3

    def attributes() -> Dict[str, str]:
        nonlocal i
        found: Dict[str, str] = {}
        if i < len(tokens) and tokens[i] == "[":
            i += 1
            while tokens[i] != "]":
                key, equals, value = tokens[i], tokens[i + 1], tokens[i + 2]
                assert equals == "=", tokens[i:i + 3]
                found[key] = _unquote(value)
                i += 3
                if tokens[i] in (",", ";"):
                    i += 1
            i += 1
        return found

    while i < len(tokens) - 1:
        token = tokens[i]
        if token in ("{", "}", ";"):
            i += 1
        elif tokens[i + 1] == "=":  # a graph attribute inside a subgraph: rank=sink
            i += 3
        elif token in ("graph", "node", "edge"):
            i += 1
            attributes()
        elif tokens[i + 1] == "->":
            tail, head = token, tokens[i + 2]
            i += 3
            edges.append((tail, head, attributes()))
        else:
            i += 1
            nodes.setdefault(token, {}).update(attributes())
    return nodes, edges


def _view(path: Path, phase: str = "TRAIN", show_splits: bool = False, need_diff: Tuple[str, ...] = ()):
    report = lint(str(path), phase=phase, need_diff=need_diff)
    state = report.states[0]
    return state.simulated, build_view(state.simulated, report.findings, show_splits=show_splits,
                                       state_label=state.state)


# ---------------------------------------------------------------------------
# The view and its DOT text
# ---------------------------------------------------------------------------


def test_a_layer_that_learns_in_forward_says_so() -> None:
    """RBMInnerProduct (pack rbm-pr3568) writes its param diffs in Forward; other layers say nothing of it."""
    text = ('layer { name: "in" type: "Input" top: "x" top: "t" '
            'input_param { shape { dim: 2 dim: 6 } shape { dim: 2 dim: 6 } } }\n'
            'layer { name: "rbm" type: "RBMInnerProduct" bottom: "x" top: "h" top: "recon" '
            'rbm_inner_product_param { loss_measure: RECONSTRUCTION '
            'connection_layer_param { type: "InnerProduct" inner_product_param { num_output: 3 } } } }\n'
            'layer { name: "loss" type: "EuclideanLoss" bottom: "recon" bottom: "t" }\n'
            'layer { name: "quiet" type: "Silence" bottom: "h" }\n')
    report = lint(text, phase="TRAIN", packs=["rbm-pr3568"])
    view = build_view(report.states[0].simulated, report.findings)
    said = {node.name: " ".join(node.reasons) for node in view.layers}
    assert "writes its parameters' diffs in Forward" in said["rbm"]
    assert "in Forward" not in said["loss"]
    sampling = text.replace("loss_measure: RECONSTRUCTION", "loss_measure: RECONSTRUCTION forward_is_update: false")
    report = lint(sampling, phase="TRAIN", packs=["rbm-pr3568"])
    view = build_view(report.states[0].simulated, report.findings)
    assert not any("in Forward" in reason for node in view.layers for reason in node.reasons)


def test_every_state_is_read_from_the_simulation() -> None:
    net = simulate(prepare(str(ALL_STATES), phase="TRAIN"))
    states = {layer.name: layer_state(net, layer) for layer in net.layers if not layer.is_split}
    assert states == {
        "data": "idle", "label": "idle", "conv1": "learns", "relu1": "passes", "frozen_fc": "frozen",
        "fc": "learns", "loss": "passes", "side_fc": "pruned", "cut_fc": "cut", "cut_loss": "passes",
        "threshold": "aborts", "threshold_loss": "passes", "py": "unknown", "py_loss": "passes",
    }
    assert {state.key for state in LAYER_STATES} == set(states.values())


def test_dot_has_every_layer_in_its_state_colour_and_every_edge() -> None:
    net, view = _view(ALL_STATES)
    nodes, edges = parse_dot(to_dot(view))
    user_layers = [(i, layer) for i, layer in enumerate(net.layers) if not layer.is_split]
    for index, layer in user_layers:
        node = nodes[f"L{index}"]
        state = STATE_BY_KEY[layer_state(net, layer)]
        assert node["label"].splitlines()[:2] == [layer.name, f"({layer.type})"]
        assert node["fillcolor"] == state.fill and node["color"] == state.border
        assert f"state-{state.key}" in node["class"].split()
    assert not any(node_id.startswith("L") and nodes[node_id].get("label", "").endswith("(Split)")
                   for node_id in nodes)
    # folded Splits: conv1 (after relu1) is one blob read by four layers
    readers = {head for tail, head, _ in edges if nodes[tail].get("label", "").splitlines()[:1] == ["conv1"]
               and head.startswith("L")}
    names = {nodes[head]["label"].splitlines()[0] for head in readers}
    assert names == {"relu1", "frozen_fc", "side_fc", "cut_fc"}
    # every bottom and top of every layer is an edge
    layer_edges = sum(len(layer.bottoms) + len(layer.tops) for _, layer in user_layers)
    assert len([edge for edge in edges if edge[0].startswith(("L", "B")) and edge[1].startswith(("L", "B"))]) \
        == layer_edges
    cut = [attrs for tail, head, attrs in edges if head == f"L{_index(net, 'cut_loss')}"]
    assert [attrs["class"] for attrs in cut] == ["edge-cut", "edge-cut"]
    assert "Legend" in nodes["legend"]["label"]
    for state in LAYER_STATES:
        assert f'BGCOLOR="{state.fill}"' in nodes["legend"]["label"] and state.legend in nodes["legend"]["label"]


def _index(net, name: str) -> int:
    return next(i for i, layer in enumerate(net.layers) if layer.name == name)


def test_blobs_whose_diff_stays_zero_are_marked_and_findings_sit_on_their_layers() -> None:
    net, view = _view(ALL_STATES)
    nodes, _ = parse_dot(to_dot(view))
    blobs = {attrs["label"].splitlines()[0]: attrs for node_id, attrs in nodes.items() if node_id.startswith("B")}
    assert "diff-zero" in blobs["side_fc"]["class"] and "diff stays 0" in blobs["side_fc"]["label"]
    assert "diff-nonzero" in blobs["frozen_fc"]["class"] and "diff stays 0" not in blobs["frozen_fc"]["label"]
    threshold = nodes[f"L{_index(net, 'threshold')}"]
    assert "BL101" in threshold["label"] and "has-findings" in threshold["class"]
    assert "BL101" in threshold["tooltip"]
    side = nodes[f"L{_index(net, 'side_fc')}"]
    assert "no loss depends on `side_fc`" in side["tooltip"]


def test_splits_are_shown_with_their_own_blob_names() -> None:
    net, view = _view(FCN, phase="TEST", show_splits=True, need_diff=("data",))
    nodes, edges = parse_dot(to_dot(view))
    split = nodes[f"L{_index(net, 'data_input_0_split')}"]
    assert split["label"].splitlines()[:2] == ["data_input_0_split", "(Split)"]
    labels = {attrs["label"].splitlines()[0] for node_id, attrs in nodes.items() if node_id.startswith("B")}
    assert {"data", "data_input_0_split_0", "data_input_0_split_1"} <= labels
    data = next(attrs for node_id, attrs in nodes.items() if node_id.startswith("B") and attrs["label"].splitlines()[0] == "data")
    assert "diff-zero" in data["class"]
    assert "BL203" in nodes[f"L{_index(net, 'input')}"]["label"]


def test_a_backward_call_highlights_its_range_dims_skipped_layers_and_marks_read_blobs(tmp_path: Path) -> None:
    forced = tmp_path / "fcn_forced.prototxt"
    forced.write_text(FCN.read_text().replace('name: "fcn_deploy"', 'name: "fcn_deploy"\nforce_backward: true'))
    report = lint(str(forced), phase="TEST")
    net = report.states[0].simulated
    plan = plan_backward(str(forced), start="score", end="conv1_a", seeds=["score"], reads=["data", "concat1"])
    view = build_view(net, report.findings, plan)
    nodes, _ = parse_dot(to_dot(view))
    calls = {attrs["label"].splitlines()[0]: attrs["class"] for node_id, attrs in nodes.items()
             if node_id.startswith("L")}
    assert "call-runs" in calls["score"] and "call-runs" in calls["conv1_a"]
    assert "call-outside" in calls["input"]
    # conv1_b comes after conv1_a in the layer list, so it is inside the range and runs
    assert "call-runs" in calls["conv1_b"]
    blob_classes = {attrs["label"].splitlines()[0]: attrs["class"] for node_id, attrs in nodes.items()
                    if node_id.startswith("B")}
    assert "read-zero" in blob_classes["data"]  # the Split outside the range keeps `data` at zero
    assert "read-nonzero" in blob_classes["concat1"]
    heading = parse_dot_graph_label(to_dot(view))
    assert "net.backward(start='score', end='conv1_a')" in heading and "fix:" in heading


def parse_dot_graph_label(text: str) -> str:
    match = re.search(r"graph \[.*?label=(\"(?:[^\"\\]|\\.)*\")", text)
    assert match
    return _unquote(match.group(1))


def test_skipped_layers_are_dimmed() -> None:
    report = lint(str(FCN), phase="TEST")
    plan = plan_backward(str(FCN), start="score", end="conv1_a", seeds=["score"], reads=["data"])
    view = build_view(report.states[0].simulated, report.findings, plan)
    nodes, _ = parse_dot(to_dot(view))
    score = next(attrs for node_id, attrs in nodes.items() if node_id.startswith("L")
                 and attrs["label"].splitlines()[0] == "score")
    assert "call-skipped" in score["class"] and "dashed" in score["style"]
    assert len(score["fillcolor"]) == 9  # #rrggbb plus an alpha: dimmed


def test_graph_dot_on_stdout_needs_no_graphviz_and_hostile_names_stay_text(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.prototxt"
    hostile.write_text('name: "x\\"y"\nlayer { name: "in\\\\put\\n<script>alert(1)</script>" type: "Input" '
                       'top: "d\\"ata" input_param { shape { dim: 1 } } }\n')
    done = run_cli("graph", str(hostile), env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    nodes, _ = parse_dot(done.stdout)
    assert nodes["L0"]["label"].splitlines()[0] == "in\\put <script>alert(1)</script>"
    assert any(attrs.get("label", "").startswith('d"ata') for attrs in nodes.values())


def test_svg_and_html_without_graphviz_is_one_clear_error(tmp_path: Path) -> None:
    empty_path = {**os.environ, "PATH": str(tmp_path)}
    for name in ("net.svg", "net.html"):
        done = run_cli("graph", str(FCN), "-o", str(tmp_path / name), env=empty_path)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "needs Graphviz's `dot`" in done.stderr and "apt-get install graphviz" in done.stderr
        assert not (tmp_path / name).exists()
    done = run_cli("graph", str(FCN), "-o", str(tmp_path / "net.dot"), env=empty_path)
    assert done.returncode == 0 and (tmp_path / "net.dot").read_text().startswith("digraph")
    done = run_cli("check", str(FCN), "--graph", str(tmp_path / "pictures"), env=empty_path)
    assert done.returncode == 2 and "apt-get install graphviz" in done.stderr
    assert not (tmp_path / "pictures").exists()


def test_bad_input_and_bad_output_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.prototxt"
    broken.write_text('layer { name: "a" type: "Input" top: "d" \n')
    done = run_cli("graph", str(broken), "-o", str(tmp_path / "out.dot"))
    assert done.returncode == 1 and done.stderr.startswith(f"{broken}:") and done.stderr.count("\n") == 1
    assert not (tmp_path / "out.dot").exists()
    refused = tmp_path / "refused.prototxt"
    refused.write_text('layer { name: "a" type: "ReLU" bottom: "nothing" top: "x" }\n')
    done = run_cli("graph", str(refused))
    assert done.returncode == 1 and "Caffe refuses this net" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("graph", str(FCN), "-o", str(tmp_path / "out.png"))
    assert done.returncode == 2 and "FILE.svg, FILE.html or FILE.dot" in done.stderr


# ---------------------------------------------------------------------------
# SVG (Graphviz)
# ---------------------------------------------------------------------------


def _svg_nodes(svg_text: str) -> Dict[str, ET.Element]:
    root = ET.fromstring(svg_text)
    return {g.get("id"): g for g in root.iter(f"{SVG_NS}g") if "node" in (g.get("class") or "").split()}


def _fill_of(group: ET.Element) -> str:
    shape = next(element for element in group.iter() if element.tag in (f"{SVG_NS}path", f"{SVG_NS}polygon",
                                                                          f"{SVG_NS}ellipse"))
    return shape.get("fill", "")


@needs_dot
def test_svg_has_every_layer_coloured_by_state_with_reasons_in_titles_and_a_legend(tmp_path: Path) -> None:
    out = tmp_path / "all_states.svg"
    done = run_cli("graph", str(ALL_STATES), "-o", str(out))
    assert done.returncode == 0, done.stderr
    svg_text = out.read_text()
    nodes = _svg_nodes(svg_text)
    net = simulate(prepare(str(ALL_STATES), phase="TRAIN"))
    for index, layer in enumerate(net.layers):
        if layer.is_split:
            assert f"L{index}" not in nodes
            continue
        group = nodes[f"L{index}"]
        state = STATE_BY_KEY[layer_state(net, layer)]
        assert f"state-{state.key}" in group.get("class", "")
        assert _fill_of(group) == state.fill
        title = group.find(f"{SVG_NS}title")
        assert title is not None and title.text and title.text.startswith(f"{layer.name} ({layer.type})\n")
    side_title = nodes[f"L{_index(net, 'side_fc')}"].find(f"{SVG_NS}title").text
    assert "no loss depends on `side_fc`" in side_title
    zero_blobs = [g for g in nodes.values() if "diff-zero" in g.get("class", "")]
    assert zero_blobs and all("stays zero" in g.find(f"{SVG_NS}title").text for g in zero_blobs)
    legend = next(g for g in ET.fromstring(svg_text).iter(f"{SVG_NS}g") if g.get("id") == "legend")
    legend_text = " ".join(t.text or "" for t in legend.iter(f"{SVG_NS}text"))
    legend_fills = {element.get("fill") for element in legend.iter() if element.get("fill")}
    for state in LAYER_STATES:
        assert state.legend in legend_text and state.fill in legend_fills


@needs_dot
def test_check_graph_writes_a_picture_per_net_state_with_findings(tmp_path: Path) -> None:
    clean = tmp_path / "clean.prototxt"
    clean.write_text(
        'name: "clean"\n'
        'layer { name: "d" type: "Input" top: "d" top: "label" input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } } }\n'
        'layer { name: "fc" type: "InnerProduct" bottom: "d" top: "fc" inner_product_param { num_output: 2 } }\n'
        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }\n')
    pictures = tmp_path / "pictures"
    done = run_cli("check", str(FCN.relative_to(REPO)), str(clean), "--graph", str(pictures), "--format", "json")
    without = run_cli("check", str(FCN.relative_to(REPO)), str(clean), "--format", "json")
    assert done.returncode == without.returncode and done.stdout == without.stdout
    written = sorted(path.name for path in pictures.iterdir())
    assert written == ["fixtures__backward__fcn_deploy.TEST.svg", "fixtures__backward__fcn_deploy.TRAIN.svg"]
    assert "BL203" not in (pictures / written[0]).read_text()  # no --need-diff here
    assert "BL201" in (pictures / written[0]).read_text()
    assert oct((pictures / written[0]).stat().st_mode & 0o077) != "0o0"  # not a temporary file's 0600


def _structure(svg_text: str) -> List[Tuple[str, str, str, List[str]]]:
    """Every node's id, class, title and texts: the picture minus Graphviz's coordinates."""
    return sorted(
        (node_id, group.get("class", ""), group.find(f"{SVG_NS}title").text or "",
         [text.text or "" for text in group.iter(f"{SVG_NS}text")])
        for node_id, group in _svg_nodes(svg_text).items()
    )


@needs_dot
def test_the_readme_picture_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "fcn_deploy.svg"
    done = run_cli(*README_PICTURE_ARGS, "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert _structure(out.read_text()) == _structure(README_PICTURE.read_text()), (
        f"regenerate it: backprop-lint {' '.join(README_PICTURE_ARGS)} -o docs/fcn_deploy.svg")
    assert "![" in (REPO / "README.md").read_text() and "docs/fcn_deploy.svg" in (REPO / "README.md").read_text()


# ---------------------------------------------------------------------------
# The HTML page in real headless Chromium
# ---------------------------------------------------------------------------


def _chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    command = [
        CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def _console_messages(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]


@needs_dot
@needs_chromium
def test_html_page_is_self_contained_runs_without_errors_and_opens_a_node(tmp_path: Path) -> None:
    page = tmp_path / "all_states.html"
    done = run_cli("graph", str(ALL_STATES), "-o", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    urls = set(re.findall(r"(?:https?:|file:|//)[^\s\"'<>)]*", html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
    assert not re.search(r"<(?:link|img|iframe)\b|src=", html)
    net = simulate(prepare(str(ALL_STATES), phase="TRAIN"))
    threshold = f"L{_index(net, 'threshold')}"
    dumped = _chromium(tmp_path, f"{page.as_uri()}#{threshold}", "--dump-dom")
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert 'data-ready="true"' in dumped.stdout and "data-script-error=" not in dumped.stdout
    assert _console_messages(dumped.stderr) == []
    panel = re.search(r'<aside id="panel">(.*?)</aside>', dumped.stdout, re.DOTALL)
    assert panel and "threshold (Threshold)" in panel.group(1)
    assert "BL101" in panel.group(1) and "Backward aborts in this layer" in panel.group(1)


@needs_dot
@needs_chromium
def test_html_screenshot_shows_the_coloured_nodes(tmp_path: Path) -> None:
    Image = pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install -e '.[test]')")

    baseline_net = tmp_path / "one_layer.prototxt"
    baseline_net.write_text('name: "one"\nlayer { name: "d" type: "Input" top: "d" input_param { shape { dim: 1 } } }\n')
    counts = {}
    for name, net in (("all_states", ALL_STATES), ("baseline", baseline_net)):
        page = tmp_path / f"{name}.html"
        assert run_cli("graph", str(net), "-o", str(page)).returncode == 0
        shot = tmp_path / f"{name}.png"
        done = _chromium(tmp_path, page.as_uri(), f"--screenshot={shot}", "--window-size=1600,2400",
                         "--hide-scrollbars")
        assert shot.exists(), done.stderr[-2000:]
        assert _console_messages(done.stderr) == []
        image = Image.open(shot).convert("RGB")
        counts[name] = {colour: count for count, colour in image.getcolors(maxcolors=1 << 24)}
    for state in LAYER_STATES:
        if state.key == "idle":
            continue  # #fafafa is too close to the page's white to count
        rgb = tuple(int(state.fill[i:i + 2], 16) for i in (1, 3, 5))
        legend_only = counts["baseline"].get(rgb, 0)
        assert legend_only > 0, f"the legend shows {state.key}"
        # a node of the state adds at least a box of about 60 x 25 px to the legend's pixels
        assert counts["all_states"].get(rgb, 0) > legend_only + 1500, state.key


def test_xml_escaped_is_saxutils_escape() -> None:
    from xml.sax.saxutils import escape

    from backprop_lint.report.graph.dot import xml_escaped

    for text in ("a & b", "<g id=\"x\">", "&amp;&lt;>", "plain", "", "'quotes' \"too\"", "\u00e9 \x1b"):
        assert xml_escaped(text) == escape(text)
