"""Shortcuts `check` and `backward` take for speed give exactly the output of the long way."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
from shared_data import SHARED

from backprop_lint.backward.plan import plan_backward
from backprop_lint.caffe.model import Location
from backprop_lint.cli import backward as backward_cli
from backprop_lint.linting.findings import Finding, Fix, TextEdit
from backprop_lint.linting.linter import LintReport, Linter, lint
from backprop_lint.report import text
from backprop_lint.report.plain import rich_styles, unchanged_by_rich

REPO = Path(__file__).resolve().parent.parent
CORPUS = SHARED / "corpus" / "nets"
BACKWARD_FIXTURES = REPO / "fixtures" / "backward"
CORPUS_SAMPLE = (
    "BVLC__caffe__examples__mnist__lenet_train_test.prototxt",
    "shicai__DenseNet-Caffe__DenseNet_121.prototxt",
    "DeepScale__SqueezeNet__SqueezeNet_v1.1__deploy.prototxt",
)
#: names a net may hold: rich markup, emoji codes, control characters, wide characters
AWKWARD_NAMES = ("[bold]x[/]", "a:smile:b", "tab\there", "cr\rlf", "bell\x07", "宽字符", "back\\\\", "[x")


def _sample_nets() -> List[Path]:
    nets = [CORPUS / name for name in CORPUS_SAMPLE if (CORPUS / name).is_file()]
    return nets + sorted(BACKWARD_FIXTURES.glob("*.prototxt"))


def _awkward_net(name: str) -> str:
    return (
        f'name: "{name}"\n'
        f'layer {{ name: "{name}" type: "Input" top: "{name}" input_param {{ shape {{ dim: 1 dim: 2 }} }} }}\n'
        f'layer {{ name: "ip" type: "InnerProduct" bottom: "{name}" top: "ip" '
        "inner_product_param { num_output: 2 } }\n"
    )


def _rich_text_report(report: LintReport) -> str:
    stream = io.StringIO()
    console = text.make_console(stream, False)
    for line in text.report_lines(report):
        console.print(line.to_rich())
    return stream.getvalue()


def _reports() -> List[LintReport]:
    reports = [lint(path) for path in _sample_nets()]
    reports += [lint(_awkward_net(name)) for name in AWKWARD_NAMES]
    finding = Finding(
        code="BL201", name="n", severity="warning", location=Location("we\tird\r.prototxt", 1, 1),
        message="tab\there", fix=Fix("add\tit", (TextEdit("f", 1, 1, 1, 1, "x"),)),
    )
    reports.append(LintReport(findings=[finding], files=["we\tird\r.prototxt"], not_shown={"we\tird\r.prototxt": 3}))
    return reports


def test_plain_text_report_is_what_rich_prints() -> None:
    for report in _reports():
        stream = io.StringIO()
        text.render(report, stream, color=False)
        assert stream.getvalue() == _rich_text_report(report)


def test_the_plain_path_is_taken_only_where_rich_prints_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert not rich_styles(io.StringIO(), None) and not rich_styles(io.StringIO(), False)
    assert rich_styles(Terminal(), None) and rich_styles(io.StringIO(), True)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert rich_styles(io.StringIO(), None)
    assert not unchanged_by_rich(["a\tb"]) and not unchanged_by_rich(["a:b:c"], markup=True)
    assert unchanged_by_rich(["a:b:c", "x: y"]) and unchanged_by_rich(["x: y"], markup=True)


def _backward_outputs(plan_source: object, **call: object) -> List[str]:
    """The backward report written plainly and through rich's markup, as before the plain path."""
    from rich.console import Console

    plan = plan_backward(plan_source, **call)  # type: ignore[arg-type]
    plain = io.StringIO()
    backward_cli.render_text(plan, plain)
    through_rich = io.StringIO()
    console = Console(file=through_rich, highlight=False, soft_wrap=True)
    console.print("\n".join(backward_cli._markup(line) for line in backward_cli.report_lines(plan)))
    return [plain.getvalue(), through_rich.getvalue()]


def test_plain_backward_report_is_what_rich_prints() -> None:
    for path in _sample_nets():
        plain, through_rich = _backward_outputs(str(path))
        assert plain == through_rich, path
    for name in AWKWARD_NAMES:
        net = _awkward_net(name)
        for call in ({}, {"start": "ip", "end": name, "reads": [name, "nope"]}, {"start": "nope", "end": "ip"}):
            plain, through_rich = _backward_outputs(net, **call)
            if unchanged_by_rich(plain.splitlines(), markup=True):
                assert plain == through_rich, (name, call)


def test_backward_command_line_does_not_import_the_linter(tmp_path: Path) -> None:
    probe = (
        "import sys; from backprop_lint.cli import main; code = main(sys.argv[1:]); "
        "print(sorted(m for m in sys.modules if m.startswith(('backprop_lint.linting', 'rich'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "backward", str(BACKWARD_FIXTURES / "saliency_deploy.prototxt")],
        capture_output=True, text=True,
    )
    assert done.returncode in (0, 1), done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_backward_config_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from backprop_lint.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("x = [\n")
    assert main(["backward", str(BACKWARD_FIXTURES / "saliency_deploy.prototxt"), "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("backprop-lint: ") and "not valid TOML" in err and len(err.strip().splitlines()) == 1


def test_a_linter_that_keeps_no_simulated_net_reports_the_same() -> None:
    for path in _sample_nets():
        kept = Linter().lint_paths([path])
        linter = Linter()
        linter.keep_simulated = False
        dropped = linter.lint_paths([path])
        assert dropped.findings == kept.findings and dropped.errors == kept.errors
        assert [(s.file, s.state, s.findings) for s in dropped.states] == [
            (s.file, s.state, s.findings) for s in kept.states
        ]
        assert all(state.simulated is None for state in dropped.states)


TOP_LEVEL_CASES = (
    'name: "n"\nlayer { name: "a" type: "Input" top: "x" input_param { shape { dim: 1 } } }\n',
    '# a comment { with a brace\nlayer { name: "a" type: "Input" top: "x" }\nname: "late"\nforce_backward: false\n',
    'layer { name: "name" type: "Input" top: "x" } name : "spaced"   # trailing\n',
    'name: "tab\there"\r\nforce_backward:true\r\n',
    'name: "a" "b"\nforce_backward: true\n',
    "layer { name: 'x' } force_backward: false name: 'one line'",
)


def test_top_level_fields_read_where_the_parser_found_them_are_the_scanned_ones() -> None:
    from backprop_lint.caffe.load import load_text
    from backprop_lint.linting.rules.textpos import TextIndex

    texts = list(TOP_LEVEL_CASES) + [path.read_text(errors="surrogateescape") for path in _sample_nets()]
    for source in texts:
        loaded = load_text(source)
        assert loaded.text is not None
        for name in ("name", "force_backward", "layer", "input"):
            hinted = TextIndex(loaded.text).top_level(name, loaded.net.positions)
            scanned = TextIndex(loaded.text).top_level(name)
            assert (hinted and (hinted.name, hinted.start, hinted.end)) == (
                scanned and (scanned.name, scanned.start, scanned.end)
            ), (source[:60], name)


def test_checking_a_plain_net_imports_neither_rich_nor_what_other_options_need(tmp_path: Path) -> None:
    net = tmp_path / "net.prototxt"
    net.write_text('name: "n"\nlayer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 } } }\n')
    probe = (
        "import sys; from backprop_lint.cli import main; code = main(sys.argv[1:]); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'tomllib', 'tomli', 'multiprocessing') "
        "or m in ('backprop_lint.linting.baseline', 'backprop_lint.linting.suppress', 'backprop_lint.caffe.states')))"
    )
    done = subprocess.run([sys.executable, "-c", probe, "check", str(net), "--color", "never", "--no-progress"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("source, solver", [
    ('net: "train.prototxt"\nbase_lr: 0.01\n', True),
    ('train_net : "a.prototxt" # comment\ntest_net: "b.prototxt"\n', True),
    ('net_param { layer { name: "d" type: "Input" } }\n', True),
    ('name: "n"\nlayer { name: "net" type: "Input" top: "net" }\n', False),
    ('name: "n"\n# net: "x"\nlayer { name: "d" type: "Input" top: "x" }\n', False),
    ('name: "subnet"\nsubnet: 3\n', False),
    ('  display: 10\nlayer { name: "d" }\n', False),
])
def test_solver_detection(source: str, solver: bool) -> None:
    from backprop_lint.linting.linter import looks_like_solver

    assert looks_like_solver(source) is solver


@pytest.mark.parametrize("source", ["", "a", "a\n", "a\nb", "\n\n", "x\n\ny\n"])
def test_lines_one_at_a_time_are_split_lines(source: str) -> None:
    from backprop_lint.linting.linter import _lines

    assert list(_lines(source)) == source.split("\n")
