"""The rule catalogue: registry, refusal mapping, messages, fixes (checked by re-linting)."""
from __future__ import annotations

import re
from typing import List, Sequence

import pytest

from backprop_lint.caffe import pipeline
from backprop_lint.linting.fix import apply_edits
from backprop_lint.caffe.model import Location, NetRefused, NetState
from backprop_lint.linting.findings import Finding
from backprop_lint.linting.rules import (
    ALL_RULES,
    RuleContext,
    find_rule,
    refusal_finding,
    rule_by_code,
    run_rules,
)
from backprop_lint.linting.rules.base import state_label
from backprop_lint.linting.rules.refusals import REFUSALS
from backprop_lint.linting.rules.textpos import TextIndex, force_backward_edit, insert_lines_after

DATA = """name: "toy"
layer {
  name: "data"
  type: "DummyData"
  top: "data"
  top: "label"
  dummy_data_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 2 } }
}
"""


def layer(name: str, type_: str, bottoms: Sequence[str] = (), tops: Sequence[str] = (), *extra: str) -> str:
    lines = [f'  name: "{name}"', f'  type: "{type_}"']
    lines += [f'  bottom: "{b}"' for b in bottoms] + [f'  top: "{t}"' for t in tops]
    lines += [f"  {line}" for line in extra]
    return "layer {\n" + "\n".join(lines) + "\n}\n"


def fc(name: str, bottom: str, top: str, *extra: str) -> str:
    return layer(name, "InnerProduct", [bottom], [top], *extra, "inner_product_param { num_output: 2 }")


def loss(bottom: str = "fc1", label: str = "label", *extra: str) -> str:
    return layer("loss", "EuclideanLoss", [bottom, label], ["loss"], *extra)


def lint(text: str, phase: str = "TRAIN", flavor: str = "bvlc", need_diff: Sequence[str] = ()) -> List[Finding]:
    try:
        prepared = pipeline.prepare(text, phase=phase, flavor=flavor, file="net.prototxt")
        simulated = pipeline.simulate(prepared)
    except NetRefused as error:
        return [refusal_finding(error, RuleContext.for_refusal(error, file="net.prototxt", text=text))]
    return run_rules(RuleContext.for_net(simulated, text=text, need_diff=need_diff))


def only(findings: List[Finding], code: str) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, [f"{f.code} {f.message}" for f in findings]
    return matching[0]


def codes(findings: List[Finding]) -> List[str]:
    return [f.code for f in findings]


def fixed(text: str, finding: Finding) -> str:
    assert finding.fix is not None and finding.fix.edits
    return apply_edits(text, finding.fix.edits)


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------


def test_codes_are_unique_sorted_and_well_formed() -> None:
    all_codes = [rule.code for rule in ALL_RULES]
    assert all_codes == sorted(set(all_codes))
    assert all(re.fullmatch(r"BL\d{3}", code) for code in all_codes)
    names = [rule.name for rule in ALL_RULES]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)
    assert all(rule.summary.endswith(".") for rule in ALL_RULES)


def test_rule_lookup_by_code_and_name() -> None:
    assert rule_by_code("BL202").name == "params-never-learn"
    assert rule_by_code("bl202").code == "BL202"
    assert rule_by_code("backward-does-nothing").code == "BL201"
    assert find_rule("BL999") is None
    with pytest.raises(KeyError):
        rule_by_code("BL999")


def test_every_refusal_kind_has_its_own_rule() -> None:
    kinds = {"unknown-bottom", "multiple-sources", "multiple-sources-split", "propagate-down-count",
             "loss-weight-count", "too-many-params", "include-and-exclude", "unknown-layer-type",
             "bottom-count", "top-count", "batchnorm-stats-lr", "softmax-loss-two-tops",
             "in-place-forbidden", "layer-setup", "upgrade", "shared-param-mismatch", "unknown-engine"}
    assert {refusal.kind for refusal in REFUSALS} == kinds
    for refusal in REFUSALS:
        assert rule_by_code(refusal.code).refusal_kind == refusal.kind


def test_refusal_finding_quotes_caffe_and_points_at_the_layer() -> None:
    error = NetRefused("Unknown bottom blob 'x' (layer 'fc', bottom index 0)", layer="fc",
                       location=Location("net.prototxt", 7, 1), kind="unknown-bottom")
    context = RuleContext.for_refusal(error, file="net.prototxt", state="TEST")
    finding = refusal_finding(error, context)
    assert (finding.code, finding.severity, finding.layer, finding.state) == ("BL001", "error", "fc", "TEST")
    assert finding.location == Location("net.prototxt", 7, 1)
    assert "\"Unknown bottom blob 'x' (layer 'fc', bottom index 0)\"" in finding.message
    assert run_rules(context) == [finding]


def test_a_refusal_kind_without_a_rule_is_a_setup_check() -> None:
    error = NetRefused("Shared param 'w' has mismatched lr_mult.", kind="shared-param")
    finding = refusal_finding(error, RuleContext.for_refusal(error, file="net.prototxt"))
    assert (finding.code, finding.location) == ("BL014", Location("net.prototxt"))


def test_state_label() -> None:
    assert state_label(NetState("TRAIN")) == "TRAIN"
    assert state_label(NetState("TEST", 2, ("deploy", "fast"))) == "TEST level=2 stages=deploy,fast"


def test_findings_are_sorted_and_deterministic() -> None:
    text = DATA + fc("fc", "data", "fc1", "propagate_down: true", "param { lr_mult: 0 }", "param { lr_mult: 0 }") \
        + fc("fc", "fc1", "fc2") + loss("fc2")
    first, second = lint(text), lint(text)
    assert first == second
    assert first == sorted(first, key=Finding.sort_key)
    assert codes(first) == ["BL308", "BL307"]  # sorted by location: the first `fc` comes first


# ---------------------------------------------------------------------------
# BL101 backward-aborts
# ---------------------------------------------------------------------------


def test_argmax_on_the_gradient_path_aborts() -> None:
    text = DATA + fc("fc1", "data", "fc1") + layer("argmax", "ArgMax", ["fc1"], ["am"]) \
        + layer("scale", "Scale", ["am"], ["scaled"], "scale_param { bias_term: false }") + loss("scaled")
    finding = only(lint(text), "BL101")
    assert finding.layer == "argmax"
    assert "its Backward is not implemented" in finding.message
    assert "gradient path" in finding.reasons[0]


def test_embed_asked_for_its_input_gradient_aborts() -> None:
    text = DATA + fc("fc1", "data", "fc1") \
        + layer("embed", "Embed", ["fc1"], ["emb"], "embed_param { num_output: 2 input_dim: 5 }") + loss("emb")
    finding = only(lint(text), "BL101")
    assert "gradient of its bottom `fc1`" in finding.message
    assert finding.fix is not None and "`propagate_down: false`" in finding.fix.description


# ---------------------------------------------------------------------------
# BL201 backward-does-nothing
# ---------------------------------------------------------------------------

DEPLOY = 'name: "deploy"\n' + layer("input", "Input", [], ["data"], "input_param { shape { dim: 1 dim: 3 } }") \
    + fc("fc1", "data", "fc1") + layer("prob", "Softmax", ["fc1"], ["prob"])


def test_fix_inserts_force_backward_after_the_name_and_relints_clean() -> None:
    finding = only(lint(DEPLOY), "BL201")
    assert finding.fix is not None and finding.fix.safe
    new_text = fixed(DEPLOY, finding)
    assert new_text.startswith('name: "deploy"\nforce_backward: true\n')
    assert lint(new_text) == []


def test_fix_rewrites_an_explicit_force_backward_false() -> None:
    text = DEPLOY.replace('name: "deploy"\n', 'name: "deploy"\nforce_backward: false  # keep\n')
    new_text = fixed(text, only(lint(text), "BL201"))
    assert 'force_backward: true  # keep\n' in new_text
    assert "false" not in new_text


def test_fix_is_unsafe_when_force_backward_would_make_backward_abort() -> None:
    text = 'name: "deploy"\n' + layer("input", "Input", [], ["data", "label"],
                                      "input_param { shape { dim: 1 dim: 3 } shape { dim: 1 } }") \
        + fc("fc1", "data", "fc1") + layer("accuracy", "Accuracy", ["fc1", "label"], ["accuracy"])
    finding = only(lint(text), "BL201")
    assert finding.fix is not None and not finding.fix.safe
    assert "`accuracy`" in finding.fix.unsafe_reason


def test_binary_input_gets_advice_without_edits() -> None:
    prepared = pipeline.prepare(DEPLOY, file="net.prototxt")
    findings = run_rules(RuleContext.for_net(pipeline.simulate(prepared), text=None))
    fix = only(findings, "BL201").fix
    assert fix is not None and fix.edits == ()


# ---------------------------------------------------------------------------
# BL202 params-never-learn
# ---------------------------------------------------------------------------


def test_layer_with_no_path_to_a_loss_never_learns() -> None:
    text = DATA + fc("fc1", "data", "fc1") + fc("side", "data", "side") + loss("fc1")
    finding = only(lint(text), "BL202")
    assert finding.layer == "side"
    assert "no loss depends on `side`" in finding.message
    assert "no layer reads it" in finding.message


def test_layer_read_only_by_silence_never_learns() -> None:
    text = DATA + fc("fc1", "data", "fc1") + fc("side", "data", "side") \
        + layer("silence", "Silence", ["side"], []) + loss("fc1")
    finding = only(lint(text), "BL202")
    assert "`silence` (Silence)" in finding.message


def test_params_never_learn_is_a_training_finding() -> None:
    text = DATA + fc("fc1", "data", "fc1") + fc("side", "data", "side") + loss("fc1")
    assert "BL202" not in codes(lint(text, phase="TEST"))


def test_frozen_layers_and_batchnorm_statistics_are_not_reported() -> None:
    text = DATA + fc("side", "data", "side", "param { lr_mult: 0 }", "param { lr_mult: 0 }") \
        + layer("bn", "BatchNorm", ["data"], ["bn"]) + fc("fc1", "bn", "fc1") + loss("fc1")
    assert "BL202" not in codes(lint(text))


# ---------------------------------------------------------------------------
# BL203 needed-gradient-is-zero
# ---------------------------------------------------------------------------


def test_needed_input_gradient_is_fixed_with_propagate_down() -> None:
    text = DATA + fc("fc1", "data", "fc1") + loss()
    finding = only(lint(text, need_diff=["data"]), "BL203")
    assert finding.layer == "data"
    assert finding.fix is not None and finding.fix.safe
    new_text = fixed(text, finding)
    assert '  bottom: "data"\n  propagate_down: true\n' in new_text
    assert lint(new_text, need_diff=["data"]) == []


def test_needed_input_gradient_behind_a_split_needs_force_backward() -> None:
    # propagate_down on a reader is not enough: the Split Caffe inserts for `data` does not run Backward
    text = DATA + fc("fc1", "data", "fc1") + fc("fc2", "data", "fc2") \
        + layer("sum", "Eltwise", ["fc1", "fc2"], ["sum"]) + loss("sum")
    finding = only(lint(text, need_diff=["data"]), "BL203")
    assert any("Split" in reason for reason in finding.reasons)
    new_text = fixed(text, finding)
    assert "force_backward: true" in new_text and "propagate_down" not in new_text
    assert lint(new_text, need_diff=["data"]) == []


def test_needed_gradient_in_a_net_without_loss_is_fixed_with_force_backward() -> None:
    finding = only(lint(DEPLOY, need_diff=["data"]), "BL203")
    assert "no loss and no `force_backward: true`" in finding.message
    assert lint(fixed(DEPLOY, finding), need_diff=["data"]) == []


def test_unknown_needed_blob_is_reported() -> None:
    finding = only(lint(DATA + fc("fc1", "data", "fc1") + loss(), need_diff=["dta"]), "BL203")
    assert "no blob of that name" in finding.message
    assert finding.reasons == ("did you mean `data`?",)


def test_a_label_gradient_cannot_be_had() -> None:
    text = DATA + fc("fc1", "data", "fc1") \
        + layer("loss", "SoftmaxWithLoss", ["fc1", "label"], ["loss"])
    finding = only(lint(text, need_diff=["label"]), "BL203")
    assert finding.fix is None or not finding.fix.edits


# ---------------------------------------------------------------------------
# BL3xx silent overrides
# ---------------------------------------------------------------------------


def test_loss_top_read_by_silence_prunes_the_loss() -> None:
    text = DATA + fc("fc1", "data", "fc1") + loss() + layer("silence", "Silence", ["loss"], [])
    findings = lint(text)
    finding = only(findings, "BL304")
    assert "nothing learns from this loss" in finding.message
    assert only(findings, "BL202").layer == "fc1"


def test_batchnorm_in_the_ssd_flavour_has_no_prototxt_fix() -> None:
    text = DATA + fc("fc1", "data", "fc1", "param { lr_mult: 0 }", "param { lr_mult: 0 }") \
        + layer("bn1", "BatchNorm", ["fc1"], ["bn1"]) \
        + fc("fc2", "bn1", "fc2", "param { lr_mult: 0 }", "param { lr_mult: 0 }") \
        + fc("head", "fc2", "head") + loss("head")
    bvlc = only(lint(text), "BL305")
    assert "`fc2`" in bvlc.message
    assert lint(fixed(text, bvlc)) == []
    ssd = only(lint(text, flavor="ssd"), "BL305")
    assert ssd.fix is not None and ssd.fix.edits == ()


def test_batchnorm_after_a_learning_layer_is_not_reported() -> None:
    text = DATA + fc("fc1", "data", "fc1") + layer("bn1", "BatchNorm", ["fc1"], ["bn1"]) + loss("bn1")
    assert "BL305" not in codes(lint(text))


# ---------------------------------------------------------------------------
# Text positions
# ---------------------------------------------------------------------------


def test_text_index_ignores_braces_in_comments_and_strings() -> None:
    text = 'name: "a { b"  # } {\nlayer { name: "x}" type: "ReLU" }\nforce_backward: false\n'
    index = TextIndex(text)
    assert [f.name for f in index.fields] == ["name", "layer", "force_backward"]
    assert index.layer_block(Location("f", 2, 1)) is index.fields[1]
    assert force_backward_edit(text, "f").start_line == 3


def test_no_insertion_into_a_one_line_layer() -> None:
    index = TextIndex('layer { name: "x" type: "ReLU" bottom: "a" top: "a" }\n')
    bottom = index.fields[0].child("bottom")
    assert bottom is not None
    assert insert_lines_after(index, "f", bottom, ["propagate_down: true"]) is None


def test_force_backward_edit_without_a_name() -> None:
    edit = force_backward_edit('layer { name: "x" type: "ReLU" }', "f")
    assert (edit.start_line, edit.start_col, edit.text) == (1, 1, "force_backward: true\n")


def test_state_in_findings_comes_from_the_context() -> None:
    prepared = pipeline.prepare(DEPLOY, phase="TEST", stages=("deploy",), file="net.prototxt")
    findings = run_rules(RuleContext.for_net(pipeline.simulate(prepared), text=DEPLOY))
    assert only(findings, "BL201").state == "TEST stages=deploy"


def test_location_falls_back_to_the_file() -> None:
    context = RuleContext(file="net.prototxt")
    assert context.location_of(None) == Location("net.prototxt")
    assert run_rules(context) == []




def test_loss_top_read_by_two_layers_goes_through_a_split_and_still_prunes_the_loss() -> None:
    text = DATA + fc("fc1", "data", "fc1") + loss() + layer("p1", "Power", ["loss"], ["p1"]) \
        + layer("p2", "Power", ["loss"], ["p2"])
    finding = only(lint(text), "BL304")
    assert "`p1` (Power), `p2` (Power)" in finding.message
    assert "nothing learns from this loss" in finding.message


def test_explicit_loss_weight_with_a_reader_is_counted_twice_not_read() -> None:
    text = DATA + fc("fc1", "data", "fc1") + loss("fc1", "label", "loss_weight: 2") \
        + layer("p1", "Power", ["loss"], ["p1"])
    assert codes(lint(text)) == ["BL302"]


def test_reshape_shares_its_diff_whatever_propagate_down_says() -> None:
    text = DATA + fc("fc1", "data", "x") \
        + layer("reshape", "Reshape", ["x"], ["r"], "propagate_down: false",
                "reshape_param { shape { dim: 0 dim: -1 } }") \
        + fc("fc2", "r", "fc2") + loss("fc2")
    findings = lint(text)
    finding = only(findings, "BL309")
    assert "a Reshape layer shares one diff" in finding.message
    assert not any("passes that gradient on" in reason for reason in finding.reasons)  # fc1 is pruned
    assert only(findings, "BL202").layer == "fc1"


def test_propagate_down_false_respected_is_not_reported() -> None:
    text = DATA + fc("fc1", "data", "fc1") + fc("fc2", "data", "fc2") \
        + layer("relu", "ReLU", ["fc1"], ["r"], "propagate_down: false") \
        + layer("sum", "Eltwise", ["r", "fc2"], ["sum"]) + loss("sum")
    assert codes(lint(text)) == ["BL202"]  # fc1 never learns, and nothing claims the flag was ignored


def test_silence_under_force_backward_zeroes_every_gradient() -> None:
    text = "force_backward: true\n" + DATA + fc("fc1", "data", "fc1") + loss() \
        + layer("silence", "Silence", ["loss"], [])
    findings = lint(text, need_diff=["data"])
    assert codes(findings) == ["BL203", "BL202", "BL304"]
    never_learns = only(findings, "BL202")
    assert never_learns.message.endswith("`silence` overwrites the diff of `loss` with zeros in Backward")
    assert "writes zeros into the loss diff" in only(findings, "BL304").message


def test_an_aborting_backward_is_reported_alone() -> None:
    text = DATA + fc("fc1", "data", "fc1") + layer("th", "Threshold", ["fc1"], ["th"]) + loss("th")
    assert codes(lint(text, need_diff=["data"])) == ["BL101"]


def test_an_unknown_field_in_text_is_an_error_but_harmless_in_a_binary_net() -> None:
    text = DATA + fc("fc1", "data", "fc1", "lr_mutl: 1") + loss()
    finding = only(lint(text), "BL403")
    assert finding.severity == "error" and "lr_mutl" in finding.message
    prepared = pipeline.prepare(text, file="net.prototxt")
    as_if_binary = run_rules(RuleContext.for_net(pipeline.simulate(prepared), text=None))
    assert codes(as_if_binary) == ["BL402"]


def test_the_same_loader_note_on_many_layers_is_reported_once() -> None:
    bn = 'param { lr_mult: 0 }'
    text = DATA + layer("bn1", "BatchNorm", ["data"], ["bn1"], bn, bn, bn) \
        + layer("bn2", "BatchNorm", ["bn1"], ["bn2"], bn, bn, bn) + fc("fc1", "bn2", "fc1") + loss()
    finding = only(lint(text, flavor="ssd"), "BL402")
    assert finding.message.endswith("(and 1 more, at line 23)")
    assert finding.location.line == 14


def test_fix_rewrites_existing_propagate_down_lines() -> None:
    text = DATA + fc("fc1", "data", "fc1") \
        + layer("loss", "EuclideanLoss", ["fc1", "label"], ["loss"], "propagate_down: false", "propagate_down: false")
    finding = only(lint(text, need_diff=["fc1"]), "BL203")
    assert "`loss` sets `propagate_down: false` on `fc1`" in finding.message
    new_text = fixed(text, finding)
    assert "  propagate_down: true\n  propagate_down: false\n" in new_text
    assert lint(new_text, need_diff=["fc1"]) == []
