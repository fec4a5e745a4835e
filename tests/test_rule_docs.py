"""Every rule has a page in rules/, the pages follow one layout, and their nets are test data.

A page's *Example* must make its rule fire (and nothing else); its *Use
instead* must be clean. rules/ is the only copy of the pages; the wheel
ships it as backprop_lint/rule_docs/.

With real Caffe built (tools/oracle/), every page net is also run by both
judges: the SSD-lineage oracle for our ``ssd`` flavour, real BVLC Caffe for
``bvlc``, each simulated with that oracle's build options: refusals, aborts
and non-zero diffs must match our simulation (about 12 s; each judge is
skipped, with the reason, when it is not built).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import re
import tempfile

import pytest

from backprop_lint.caffe import pipeline
from backprop_lint.linting.linter import LOAD_TIME_CODES, lint, rule_catalogue
from backprop_lint.caffe.model import InputError, NetRefused, NetState
from backprop_lint.linting.findings import Finding
from backprop_lint.linting.rules import (
    ALL_RULES,
    RuleContext,
    refusal_finding,
    rule_by_code,
    run_rules,
    state_label,
)
from backprop_lint.linting.rules.docs import SECTIONS, RulePage, all_pages, parse_page

REPO = Path(__file__).resolve().parent.parent
PAGES_DIR = REPO / "rules"
PAGES: List[Path] = all_pages(PAGES_DIR)
CATALOGUE = {info.code: info for info in rule_catalogue()}
INPUT_ERROR_CODE = "BL000"


def load_page(path: Path) -> RulePage:
    return parse_page(path.read_text(encoding="utf-8"))


def declared_layers(options: Mapping[str, str]) -> Optional[Dict[str, Dict[str, int]]]:
    """``declare=mod.Layer:params=0`` -> {"mod.Layer": {"params": 0}}."""
    if "declare" not in options:
        return None
    key, _, settings = options["declare"].partition(":")
    values = dict(item.split("=", 1) for item in settings.split(",") if item)
    return {key: {name: int(value) for name, value in values.items()}}


def lint_net(text: str, options: Mapping[str, str]) -> List[Finding]:
    """Run one net state through the whole pipeline and every rule, as `backprop-lint check` does."""
    declared = declared_layers(options)
    file = "example.prototxt"
    try:
        prepared = pipeline.prepare(text, phase=options.get("phase", "TRAIN"),
                                    flavor=options.get("flavor", "bvlc"), file=file)
        simulated = pipeline.simulate(prepared, declared_layers=declared)
    except NetRefused as error:
        state = state_label(NetState(options.get("phase", "TRAIN")))
        return [refusal_finding(error, RuleContext.for_refusal(error, file=file, text=text, state=state))]
    need_diff = tuple(options["need_diff"].split(",")) if "need_diff" in options else ()
    context = RuleContext.for_net(
        simulated, text=text, need_diff=need_diff,
        resimulate=lambda changed: pipeline.simulate(changed, declared_layers=declared),
    )
    return run_rules(context)


def codes(findings: List[Finding]) -> List[str]:
    return sorted({finding.code for finding in findings})


def test_every_rule_has_a_page() -> None:
    missing = [rule.code for rule in ALL_RULES if not (PAGES_DIR / f"{rule.code}.md").is_file()]
    assert missing == []


def test_every_page_belongs_to_a_rule() -> None:
    orphans = [path.name for path in PAGES if path.stem not in CATALOGUE]
    assert orphans == []


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.stem)
def test_page_layout(path: Path) -> None:
    page = load_page(path)
    assert page.code == path.stem
    assert page.name == CATALOGUE[page.code].name, "the title is '# CODE name' with the rule's name"
    assert tuple(page.sections) == SECTIONS
    assert all(page.sections[section] for section in SECTIONS), "no empty section"
    assert page.example.strip() and page.use_instead.strip()
    assert (page.example, page.example_options) != (page.use_instead, page.use_instead_options)


def test_there_is_one_copy_of_each_page() -> None:
    """rules/ is the only source; the wheel takes it from there (see test_wheel.py)."""
    copies = [p for p in (REPO / "backprop_lint").rglob("BL*.md")]
    assert copies == [], f"rule pages live only in rules/, not {copies}"


RULE_PAGES: List[Tuple[str, Path]] = [
    (path.stem, path) for path in PAGES
    if path.stem != INPUT_ERROR_CODE and rule_by_code(path.stem).check is not None
]


@pytest.mark.parametrize("code,path", RULE_PAGES, ids=[code for code, _ in RULE_PAGES])
def test_example_fires_only_its_rule(code: str, path: Path) -> None:
    page = load_page(path)
    found = lint_net(page.example, page.example_options)
    assert codes(found) == [code], [f"{f.code} {f.message}" for f in found]


@pytest.mark.parametrize("code,path", RULE_PAGES, ids=[code for code, _ in RULE_PAGES])
def test_use_instead_is_clean(code: str, path: Path) -> None:
    page = load_page(path)
    found = lint_net(page.use_instead, page.use_instead_options)
    assert found == [], [f"{f.code} {f.message}" for f in found]


def test_input_error_page() -> None:
    page = load_page(PAGES_DIR / f"{INPUT_ERROR_CODE}.md")
    with pytest.raises(InputError):
        pipeline.prepare(page.example, file="example.prototxt")
    assert lint_net(page.use_instead, {}) == []


def test_unused_suppression_page_through_the_linter() -> None:
    rule = rule_by_code("unused-suppression")
    page = load_page(PAGES_DIR / f"{rule.code}.md")
    reported = lint(page.example, phase="TRAIN").findings
    assert rule.code in [f.code for f in reported], [f"{f.code} {f.name} {f.message}" for f in reported]
    assert [f for f in lint(page.use_instead, phase="TRAIN").findings] == []


def test_states_linted_page_through_the_linter(tmp_path: Path) -> None:
    """BL902 is the linter's own note: the Example's TRAIN-only data makes TEST unbuildable."""
    rule = rule_by_code("states-linted")
    page = load_page(PAGES_DIR / f"{rule.code}.md")
    example = tmp_path / "example.prototxt"
    example.write_text(page.example, encoding="utf-8")
    reported = lint(example).findings
    assert [(f.code, f.severity, f.state) for f in reported] == [(rule.code, "info", "")]
    assert reported[0].message.startswith("linted in TRAIN:")
    assert "the net is meant for TRAIN only" in " ".join(reported[0].reasons)
    use_instead = tmp_path / "use_instead.prototxt"
    use_instead.write_text(page.use_instead, encoding="utf-8")
    assert lint(use_instead).findings == []


def test_page_path_finds_every_rule_page() -> None:
    from backprop_lint.linting.rules.docs import page_path

    for rule in ALL_RULES:
        path = page_path(rule.code.lower())
        assert path is not None and path.name == f"{rule.code}.md"
    assert page_path("BL999") is None


def test_the_index_lists_every_rule() -> None:
    from backprop_lint.linting.rules.docs import catalogue_index

    expected = catalogue_index((r.code, r.name, r.severity, r.summary) for r in rule_catalogue())
    assert (PAGES_DIR / "README.md").read_text(encoding="utf-8") == expected, (
        "regenerate rules/README.md with backprop_lint.linting.rules.docs.catalogue_index"
    )


def with_random_data(text: str) -> str:
    """Give every DummyData top uniform values, so that zero diffs mean "no gradient", not "zero input"."""
    def fill(match: "re.Match[str]") -> str:
        shapes = match.group(1).count("shape {")
        fillers = ' data_filler { type: "uniform" min: 0.1 max: 0.9 }' * shapes
        return "dummy_data_param {" + match.group(1) + fillers + " }"

    return re.sub(r"dummy_data_param \{(.*)\}", fill, text)


ORACLE_NETS: List[Tuple[str, str, Dict[str, str]]] = [
    (f"{path.stem}-{label}", net, options)
    for path in PAGES
    for label, net, options in (
        ("example", load_page(path).example, load_page(path).example_options),
        ("use-instead", load_page(path).use_instead, load_page(path).use_instead_options),
    )
    if 'type: "Python"' not in net  # the oracle never runs user Python code
]


@pytest.mark.parametrize("flavor", ["ssd", "bvlc"])
@pytest.mark.parametrize("net_id,text,options", ORACLE_NETS, ids=[net_id for net_id, _, _ in ORACLE_NETS])
def test_page_nets_behave_in_real_caffe_as_simulated(net_id: str, text: str, options: Dict[str, str],
                                                     flavor: str) -> None:
    from oracle_support import oracle_status, run_oracle

    from backprop_lint.caffe.build_options import ORACLE_BUILDS, build_setting_of

    ready, reason = oracle_status(flavor)
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)
    phase = options.get("phase", "TRAIN")
    try:
        ours = pipeline.simulate(pipeline.prepare(text, phase=phase, flavor=flavor, strict=True, file="net.prototxt",
                                                  build=build_setting_of(ORACLE_BUILDS[flavor])))
    except (NetRefused, InputError):
        ours = None
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "net.prototxt"
        path.write_text(with_random_data(text), encoding="utf-8")
        real = run_oracle(path, phase, run=True, fill_zero_weights=True, flavor=flavor)
    if ours is None or real.refusal:
        assert ours is None and real.refusal, f"refused by us: {ours is None}; by Caffe: {real.refusal}"
        return
    assert bool(real.crash_in_run) == bool(ours.backward_aborts), real.crash_in_run
    if real.crash_in_run:
        return
    real_blobs, real_params = real.run["blob_diff_nonzero"], real.run["param_diff_nonzero"]
    assert {b: v for b, v in ours.blob_diff_nonzero.items() if b in real_blobs} == real_blobs
    assert {layer: v for layer, v in ours.param_diff_nonzero.items() if layer in real_params} == real_params


@pytest.mark.parametrize("code,path", RULE_PAGES, ids=[code for code, _ in RULE_PAGES])
def test_page_names_the_module_of_its_rule(code: str, path: Path) -> None:
    module = rule_by_code(code).check.__module__.replace(".", "/") + ".py"
    assert f"- Rule code: `{module}`." in load_page(path).sections["References"]
    assert (REPO / module).is_file()


@pytest.mark.parametrize("code,path", RULE_PAGES, ids=[code for code, _ in RULE_PAGES])
def test_findings_carry_their_rule_identity(code: str, path: Path) -> None:
    page = load_page(path)
    for finding in lint_net(page.example, page.example_options):
        rule = rule_by_code(finding.code)
        # what the loader and upgrader see holds before FilterNet, in every state: no state label
        state = "" if finding.code in LOAD_TIME_CODES else "TRAIN"
        assert (finding.name, finding.severity, finding.state) == (rule.name, rule.severity, state)
        assert finding.location.file == "example.prototxt" and finding.location.line > 0
