"""Tests of the oracle wrapper (tools/oracle/oracle.py).

Run: python3 -m pytest tools/oracle/test_oracle.py -q
The first group needs no Caffe; the second runs the real oracle and skips,
saying why, when it is not built (tools/oracle/build.sh).
"""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import oracle  # noqa: E402

FATAL_LINE = "F20261126 00:53:14.479627 13264 net.cpp:430] Top blob 'y' produced by multiple sources."
STRUCTURE_LINE = '{"layers":[],"blobs":[],"inputs":[],"outputs":[]}'
RUN_LINE = '{"blob_diff_nonzero":{},"param_diff_nonzero":{},"seeded":[],"backward_from_to":[-1,0]}'


def test_fatal_message_is_extracted_from_glog_output() -> None:
    stderr = f"{FATAL_LINE}\n*** Check failure stack trace: ***\n    @ 0x7f google::LogMessage::Fail()\n"
    assert oracle.parse_stderr(stderr) == ("Top blob 'y' produced by multiple sources.", [], None)


def test_protobuf_parse_errors_before_the_fatal_line_are_kept() -> None:
    stderr = (
        "[libprotobuf ERROR google/protobuf/text_format.cc:337] Error parsing text-format caffe.NetParameter: "
        '2:7: Message type "caffe.LayerParameter" has no field named "bogus".\n'
        "F20261126 00:53:14.1 1 upgrade_proto.cpp:88] Check failed: ReadProtoFromTextFile(param_file, param) Failed\n"
    )
    fatal, errors, _ = oracle.parse_stderr(stderr)
    assert fatal == "Check failed: ReadProtoFromTextFile(param_file, param) Failed"
    assert errors == ['Error parsing text-format caffe.NetParameter: 2:7: Message type "caffe.LayerParameter" has no field named "bogus".']


def test_refusal_when_nothing_was_printed() -> None:
    result = oracle.interpret(-6, "", FATAL_LINE + "\n", run=True)
    assert not result.ok and result.structure is None
    assert result.refusal == "Top blob 'y' produced by multiple sources." and result.crash_in_run is None


def test_crash_after_the_structure_line_is_a_crash_in_run_with_its_stage() -> None:
    stderr = "caffe-oracle: running Forward\ncaffe-oracle: running Backward\n" + FATAL_LINE + "\n"
    result = oracle.interpret(-6, STRUCTURE_LINE + "\n", stderr, run=True)
    assert result.refusal is None and result.structure == {"layers": [], "blobs": [], "inputs": [], "outputs": []}
    assert result.crash_in_run == "Top blob 'y' produced by multiple sources." and result.crash_stage == "Backward"


def test_a_crash_without_a_glog_message_names_the_signal() -> None:
    result = oracle.interpret(-11, STRUCTURE_LINE + "\n", "caffe-oracle: running Forward\n", run=True)
    assert result.crash_in_run == "killed by signal SIGSEGV" and result.crash_stage == "Forward"


def test_success_merges_both_lines() -> None:
    result = oracle.interpret(0, f"{STRUCTURE_LINE}\n{RUN_LINE}\n", "", run=True)
    assert result.ok and result.merged()["backward_from_to"] == [-1, 0] and "layers" in result.merged()


def test_usage_errors_and_garbled_output_raise() -> None:
    with pytest.raises(oracle.OracleError, match="unknown blob"):
        oracle.interpret(oracle.UNKNOWN_NAME, "", "caffe-oracle: unknown blob 'x' given to --seed\n", run=True)
    with pytest.raises(oracle.OracleError, match="malformed"):
        oracle.interpret(0, "{not json\n", "", run=False)
    with pytest.raises(oracle.OracleError, match="without its JSON"):
        oracle.interpret(0, STRUCTURE_LINE + "\n", "", run=True)


def test_python_layers_are_detected_outside_comments() -> None:
    assert oracle.has_python_layer('layer { type: "Python" python_param { module: "m" } }')
    assert oracle.has_python_layer("layers { type: PYTHON }")
    assert not oracle.has_python_layer('# type: "Python"\nlayer { type: "ReLU" name: "type: \\"Python\\"" }')


def test_arguments_carry_every_option() -> None:
    args = oracle.oracle_arguments("n.prototxt", "TEST", 2, ["s"], True, ["a"], ["lab"], "top", "bottom")
    assert args[1:] == ["n.prototxt", "TEST", "--level", "2", "--stage", "s", "--run", "--seed", "a",
                        "--label", "lab", "--start", "top", "--end", "bottom"]
    with pytest.raises(oracle.OracleError):
        oracle.oracle_arguments("n", "DEPLOY", 0, [], False, [], [], None, None)


def test_availability_reports_missing_and_stale_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAFFE_ORACLE_HOME", str(tmp_path))
    ready, reason = oracle.oracle_available()
    assert not ready and "not built" in reason
    (tmp_path / "bin").mkdir()
    (tmp_path / "lib").mkdir()
    binary = tmp_path / "bin" / "caffe-oracle"
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (tmp_path / "lib" / "_caffe.so").write_text("")
    (tmp_path / "oracle.sha256").write_text("0" * 64)
    ready, reason = oracle.oracle_available()
    assert not ready and "another oracle.cpp" in reason
    (tmp_path / "oracle.sha256").write_text(oracle.source_hash())
    assert oracle.oracle_available() == (True, "")


# --- with real Caffe --------------------------------------------------------

# force_backward: a net with no loss has need_backward false everywhere otherwise
TWO_HEADS = textwrap.dedent(
    """\
    force_backward: true
    layer { name: "in" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
    layer { name: "a" type: "InnerProduct" bottom: "data" top: "a" inner_product_param { num_output: 2 } }
    layer { name: "b" type: "InnerProduct" bottom: "a" top: "b" inner_product_param { num_output: 2 } }
    layer { name: "c" type: "InnerProduct" bottom: "a" top: "c" inner_product_param { num_output: 2 } }
    """
)


@pytest.fixture
def real_oracle() -> None:
    ready, reason = oracle.oracle_available()
    if not ready:
        print(f"SKIPPED (real Caffe not available): {reason}")
        pytest.skip(reason)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "net.prototxt"
    path.write_text(text)
    return path


def test_deploy_net_seeds_every_output_by_default(tmp_path: Path, real_oracle: None) -> None:
    result = oracle.run_oracle(write(tmp_path, TWO_HEADS), run=True, fill_zero_weights=True)
    assert result.ok and result.run is not None
    assert result.run["seeded"] == ["b", "c"]
    assert result.run["param_diff_nonzero"] == {"a": [True, True], "b": [True, True], "c": [True, True]}


def test_seed_restricts_the_gradient_sources(tmp_path: Path, real_oracle: None) -> None:
    result = oracle.run_oracle(write(tmp_path, TWO_HEADS), run=True, seeds=["b"], fill_zero_weights=True)
    assert result.run is not None and result.run["seeded"] == ["b"]
    assert result.run["param_diff_nonzero"]["c"] == [False, False]
    assert result.run["param_diff_nonzero"]["b"] == [True, True]


def test_zero_weights_hide_gradients_unless_filled(tmp_path: Path, real_oracle: None) -> None:
    # TWO_HEADS has no fillers: every weight is 0, so "a" is all zeros and b's weight diff (top diff x a) too
    result = oracle.run_oracle(write(tmp_path, TWO_HEADS), run=True)
    assert result.run is not None and result.run["param_diff_nonzero"]["b"] == [False, True]


def test_start_and_end_bound_the_backward_pass(tmp_path: Path, real_oracle: None) -> None:
    result = oracle.run_oracle(write(tmp_path, TWO_HEADS), run=True, start="c", end="b", fill_zero_weights=True)
    assert result.run is not None and result.run["backward_from_to"] == [4, 3]  # after the Split of "a"
    assert result.run["param_diff_nonzero"]["a"] == [False, False]
    with pytest.raises(oracle.OracleError, match="unknown layer"):
        oracle.run_oracle(write(tmp_path, TWO_HEADS), run=True, start="nope")


def test_refusal_carries_caffes_message(tmp_path: Path, real_oracle: None) -> None:
    text = 'layer { name: "r" type: "ReLU" bottom: "missing" top: "r" }\n'
    result = oracle.run_oracle(write(tmp_path, text))
    assert not result.ok and result.structure is None
    assert result.refusal == "Unknown bottom blob 'missing' (layer 'r', bottom index 0)"


def test_crash_in_backward_is_told_apart_from_a_refusal(tmp_path: Path, real_oracle: None) -> None:
    text = TWO_HEADS + 'layer { name: "loss" type: "SigmoidCrossEntropyLoss" bottom: "b" bottom: "c" top: "loss" }\n'
    result = oracle.run_oracle(write(tmp_path, text), run=True)
    assert result.refusal is None and result.structure is not None
    assert result.crash_stage == "Backward"
    assert result.crash_in_run == "SigmoidCrossEntropyLoss Layer cannot backpropagate to label inputs."


def test_python_layers_are_never_run(tmp_path: Path, real_oracle: None) -> None:
    text = 'layer { name: "p" type: "Python" top: "x" python_param { module: "os" layer: "L" } }\n'
    with pytest.raises(oracle.PythonLayerRefused):
        oracle.run_oracle(write(tmp_path, text))


def test_cli_prints_the_result_and_its_status(tmp_path: Path, real_oracle: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert oracle.main([str(write(tmp_path, TWO_HEADS)), "--run"]) == 0
    assert '"ok": true' in capsys.readouterr().out
    assert oracle.main([str(write(tmp_path, 'layer { name: "r" type: "ReLU" bottom: "m" top: "r" }'))]) == 1


# --- the recorded goldens (tools/record_goldens.py) --------------------------

REPO = Path(__file__).resolve().parent.parent.parent
GOLDEN_KEYS = {"net", "source", "phase", "level", "stages", "flavor", "replaced_layers", "labels", "fill_zero_weights"}
LAYER_KEYS = {"name", "type", "bottoms", "tops", "need_backward", "bottom_need_backward", "param_propagate_down", "loss"}


def test_goldens_are_well_formed() -> None:
    """The goldens of tools/record_goldens.py (those with a corpus or experiment "source")."""
    goldens = [(path, json.loads(path.read_text())) for path in sorted((REPO / "fixtures" / "golden").glob("*.json"))]
    goldens = [(path, golden) for path, golden in goldens if str(golden.get("source", "")).startswith(("corpus/", "spec/"))]
    if not goldens:
        pytest.skip("no goldens recorded yet (tools/record_goldens.py)")
    for path, golden in goldens:
        assert GOLDEN_KEYS <= golden.keys(), path.name
        assert path.name == f"{Path(golden['net']).stem}.{golden['phase']}.json"
        assert (REPO / golden["net"]).is_file(), golden["net"]
        assert ("refusal" in golden) != ("structure" in golden), path.name
        if "structure" in golden:
            layers = golden["structure"]["layers"]
            assert all(LAYER_KEYS == layer.keys() for layer in layers), path.name
            assert len(golden["structure"]["blobs"]) >= len(golden["structure"]["outputs"])
            assert sum(key in golden for key in ("run", "crash_in_run", "run_skipped")) == 1, path.name
        if "run" in golden:
            assert golden["run"]["blob_diff_nonzero"].keys() == set(golden["structure"]["blobs"])
