"""Live pycaffe: explain ``net.backward`` on a loaded ``caffe.Net``, and measure it.

Optional: nothing here needs ``caffe`` until a function that runs Caffe is
called. ``caffe`` is imported as installed, or else from
``$CAFFE_ORACLE_HOME/python`` (default ``~/.cache/caffe-oracle/python``, where
``tools/oracle/build.sh`` builds it).

* ``explain_backward(net, start=..., end=..., seed=[...], read=[...], prototxt=...)``:
  the ``backward_plan`` for a live net. pycaffe does not expose the
  NetParameter a net was built from, so pass ``prototxt=`` (the file you gave
  ``caffe.Net``). Without it the net is reconstructed from what pycaffe does
  expose (layer names and types, post-split bottoms and tops, loss weights,
  parameter blob counts, input shapes); that reconstruction cannot see
  ``lr_mult``, ``propagate_down``, ``force_backward`` or type-specific
  parameters, so it assumes Caffe's defaults (``lr_mult: 1``, no
  ``propagate_down``, ``force_backward`` as given by the ``force_backward=``
  argument, default false).
* ``measure_backward(...)``: builds the net with real pycaffe **in a child
  process** (a Caffe CHECK failure aborts the process that hit it), runs one
  forward and one ``net.backward(start=..., end=...)`` with the seeds' diffs
  written by hand, and reports which diffs are non-zero.
* ``runnable_net(...)``: the net as Caffe can build it without any dataset:
  data layers whose ``source`` is absent become ``Input`` layers of inferred
  shape. Nets with Python layers are refused: running one would import and
  execute the user's module.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from backprop_lint.backward.plan import DEFAULT_PHASE, BackwardPlan, plan_for_net, prepare_source
from backprop_lint.caffe.model import InputError, Message, NetRefused, PreparedNet, UnsupportedInput
from backprop_lint.caffe.pipeline import declared_layer_infos
from backprop_lint.caffe.records import Record
from backprop_lint.caffe.simulate import init_net

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple

#: data layer types replaced by an Input layer when their source is absent
DATA_LAYER_TYPES = ("Data", "ImageData", "WindowData", "HDF5Data", "AnnotatedData", "VideoData", "MemoryData")
DEFAULT_IMAGE_SIDE = 224
MEASURE_TIMEOUT = 120.0
_GLOG_FATAL = re.compile(r"^F\d{4,8} [\d:.]+\s+\d+ [^\]]*\] (.*)$")


class PycaffeUnavailable(UnsupportedInput):
    """pycaffe cannot be imported here."""


# ---------------------------------------------------------------------------
# Importing caffe
# ---------------------------------------------------------------------------


def caffe_python_dir() -> Path:
    """Where the oracle build puts pycaffe: $CAFFE_ORACLE_HOME/python."""
    home = os.environ.get("CAFFE_ORACLE_HOME")
    base = Path(home).expanduser() if home else Path.home() / ".cache" / "caffe-oracle"
    return base / "python"


def import_caffe() -> Any:
    """The ``caffe`` module: as installed, else from ``caffe_python_dir()``."""
    try:
        import caffe  # type: ignore[import-not-found]

        return caffe
    except ImportError:
        pass
    directory = caffe_python_dir()
    if not (directory / "caffe" / "__init__.py").is_file():
        raise PycaffeUnavailable(f"pycaffe is not importable and not built in {directory} (run tools/oracle/build.sh)")
    sys.path.insert(0, str(directory))
    try:
        import caffe  # type: ignore[import-not-found]  # noqa: F811
    except ImportError as error:
        sys.path.remove(str(directory))
        raise PycaffeUnavailable(f"pycaffe in {directory} does not import: {error}") from None
    return caffe


def pycaffe_status() -> Tuple[bool, str]:
    """(True, "") when a child process can import pycaffe, else (False, why)."""
    process = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import caffe", str(caffe_python_dir())],
        capture_output=True, text=True, env=_child_environment(), timeout=MEASURE_TIMEOUT,
    )
    if process.returncode == 0:
        return True, ""
    last = (process.stderr.strip().splitlines() or ["unknown error"])[-1]
    return False, f"pycaffe does not import (looked in {caffe_python_dir()}): {last}"


#: layer types only the SSD-lineage forks register (the oracle's brocolli build is one)
_SSD_ONLY_TYPES = ("AnnotatedData", "PriorBox", "DetectionOutput", "MultiBoxLoss")


def pycaffe_flavor() -> str:
    """``ssd`` when the importable pycaffe registers SSD-only layer types, else ``bvlc``."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import caffe; "
            "print(' '.join(caffe.layer_type_list()))")
    process = subprocess.run(
        [sys.executable, "-c", code, str(caffe_python_dir())],
        capture_output=True, text=True, env=_child_environment(), timeout=MEASURE_TIMEOUT,
    )
    types = set(process.stdout.split())
    return "ssd" if types & set(_SSD_ONLY_TYPES) else "bvlc"


# ---------------------------------------------------------------------------
# explain_backward on a live caffe.Net
# ---------------------------------------------------------------------------


def explain_backward(
    net: Any,
    start: Optional[str] = None,
    end: Optional[str] = None,
    seed: Sequence[str] = (),
    read: Sequence[str] = (),
    prototxt: Any = None,
    phase: str = DEFAULT_PHASE,
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    force_backward: bool = False,
) -> BackwardPlan:
    """``backward_plan`` for a loaded ``caffe.Net``; see the module docstring.

    ``prototxt``: the net file (or text) the net was built from, with the
    ``phase``/``level``/``stages`` used to build it. It must give the same
    layer list as the live net, else ``InputError``.
    """
    live_layers = [str(name) for name in net._layer_names]
    if prototxt is not None:
        prepared = prepare_source(prototxt, phase=phase, level=level, stages=stages, flavor=flavor)
        ours = [layer.name for layer in prepared.layers]
        if ours != live_layers:
            raise InputError(
                f"the prototxt does not describe this net: it builds layers {ours[:6]}..., "
                f"the net has {live_layers[:6]}... (wrong file, phase, level or stages?)"
            )
    else:
        prepared = prepare_source(reconstruct_prototxt(net, force_backward), phase=phase, flavor=flavor)
    built = init_net(prepared, declared_layer_infos(None))
    return plan_for_net(prepared, built, start, end, seed, read)


def reconstruct_prototxt(net: Any, force_backward: bool = False) -> str:
    """A prototxt with the live net's layers (Split layers included), as far as pycaffe shows them."""
    names = [str(name) for name in net._layer_names]
    blob_names = [str(name) for name in net._blob_names]
    loss_weights = list(net._blob_loss_weights)
    lines = ['name: "reconstructed from a live caffe.Net"']
    if force_backward:
        lines.append("force_backward: true")
    for i, layer in enumerate(net.layers):
        bottoms = [blob_names[b] for b in net._bottom_ids(i)]
        top_ids = list(net._top_ids(i))
        lines.append("layer {")
        lines.append(f"  name: {_quoted(names[i])} type: {_quoted(str(layer.type))}")
        lines.extend(f"  bottom: {_quoted(b)}" for b in bottoms)
        lines.extend(f"  top: {_quoted(blob_names[t])}" for t in top_ids if blob_names[t] != "(automatic)")
        weights = [loss_weights[t] for t in top_ids]
        if any(w != 0 for w in weights):
            lines.extend(f"  loss_weight: {w}" for w in weights)
        if str(layer.type) == "Input":
            shapes = " ".join(
                "shape { " + " ".join(f"dim: {d}" for d in net._blobs[t].shape) + " }" for t in top_ids
            )
            lines.append(f"  input_param {{ {shapes} }}")
        lines.append("}")
    return "\n".join(lines) + "\n"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------------------
# A net Caffe can build without datasets
# ---------------------------------------------------------------------------


class RunnableNet(Record):
    """A net Caffe can build without datasets, and what was replaced to get it."""

    __slots__ = ("text", "messages", "labels")
    text: str  # V2 prototxt text Caffe can load
    messages: List[str]  # what was replaced, and how shapes were chosen
    labels: List[str]  # replaced tops that hold class labels

    def __init__(self, text: str, messages: Optional[List[str]] = None, labels: Optional[List[str]] = None) -> None:
        self.text = text
        self.messages = [] if messages is None else messages
        self.labels = [] if labels is None else labels


def refuse_python_layers(prepared: PreparedNet) -> None:
    """verify never runs user code: refuse any net with a Python layer (in any phase)."""
    layers = prepared.net.repeated("layer") if prepared.net is not None else []
    for layer in layers:
        if layer.get("type") == "Python":
            python_param = layer.get("python_param")
            module = f"{python_param.get('module')}.{python_param.get('layer')}"
            raise NetRefused(
                f"the net has a Python layer ({module}); verify refuses it because building the net "
                f"would import and execute that module",
                layer=layer.get("name"),
                kind="python-layer",
            )


def runnable_net(source: Any, *, flavor: str = "bvlc", base_dir: Optional[Path] = None) -> RunnableNet:
    """The upgraded net, data layers with an absent ``source`` replaced by ``Input`` layers.

    Shapes: batch_size from the layer; images (3, crop_size, crop_size), or
    the MemoryData dims, or new_height/new_width, else 3x224x224; every other
    top is a label of shape (batch,). HDF5Data's shapes are in its files:
    it is refused (``UnsupportedInput``).
    """
    from google.protobuf import text_format

    from backprop_lint.caffe.pbconvert import to_protobuf

    prepared = prepare_source(source, phase="TRAIN", flavor=flavor)  # the phase does not matter: unfiltered net
    refuse_python_layers(prepared)
    if prepared.net is None:
        raise InputError("the net could not be read")
    base = base_dir or (Path(prepared.file).parent if prepared.file not in ("<string>", "") else Path.cwd())
    result = RunnableNet(text="")
    layers: List[Message] = []
    for layer in prepared.net.repeated("layer"):
        replacement = _replace_data_layer(layer, base, result)
        layers.append(replacement if replacement is not None else layer)
    fields = dict(prepared.net.fields)
    fields["layer"] = layers
    net_message = Message("NetParameter", fields)
    result.text = text_format.MessageToString(to_protobuf(net_message))
    return result


def _replace_data_layer(layer: Message, base: Path, result: RunnableNet) -> Optional[Message]:
    layer_type = layer.get("type")
    if layer_type not in DATA_LAYER_TYPES:
        return None
    name = layer.get("name")
    source = _data_source(layer)
    if source and (base / source).exists():
        return _with_absolute_source(layer, base / source)
    if layer_type == "HDF5Data":
        raise UnsupportedInput(f"HDF5Data layer '{name}': its source {source!r} is absent and its top shapes "
                               f"are only in the HDF5 files; give an Input layer instead")
    tops = layer.repeated("top")
    batch, image = _image_shape(layer)
    shapes = []
    for index, top in enumerate(tops):
        dims = [batch, *image] if index == 0 else [batch]
        if index > 0:
            result.labels.append(top)
        shapes.append(Message("BlobShape", {"dim": dims}))
    fields: Dict[str, Any] = {"name": name, "type": "Input", "top": list(tops),
                              "input_param": Message("InputParameter", {"shape": shapes})}
    for kept in ("include", "exclude", "phase"):
        if layer.has(kept):
            fields[kept] = layer.fields[kept]
    described = ", ".join(f"{top} {list(shape.get('dim'))}" for top, shape in zip(tops, shapes))
    result.messages.append(
        f"{layer_type} layer '{name}' (source {source!r} absent) replaced by an Input layer: {described}"
    )
    return Message("LayerParameter", fields)


def _with_absolute_source(layer: Message, path: Path) -> Optional[Message]:
    """The layer reading its (present) source by absolute path: Caffe runs in a temporary directory."""
    if Path(str(_data_source(layer))).is_absolute():
        return None
    fields = dict(layer.fields)
    for param in _SOURCE_PARAMS:
        if layer.has(param):
            inner = layer.get(param)
            fields[param] = Message(inner.type, {**inner.fields, "source": str(path.resolve())})
    return Message(layer.type, fields)


_SOURCE_PARAMS = ("data_param", "image_data_param", "window_data_param", "hdf5_data_param", "video_data_param")


def _data_source(layer: Message) -> str:
    for param in _SOURCE_PARAMS:
        if layer.has(param):
            return str(layer.get(param).get("source"))
    return ""


def _image_shape(layer: Message) -> Tuple[int, List[int]]:
    """(batch, [channels, height, width]) of the images a data layer produces."""
    if layer.has("memory_data_param"):
        p = layer.get("memory_data_param")
        return int(p.get("batch_size")), [int(p.get("channels")), int(p.get("height")), int(p.get("width"))]
    batch = 1
    for param in ("data_param", "image_data_param", "window_data_param", "video_data_param"):
        if layer.has(param) and layer.get(param).has("batch_size"):
            batch = int(layer.get(param).get("batch_size"))
    channels = 1 if layer.has("image_data_param") and layer.get("image_data_param").get("is_color") is False else 3
    crop = int(layer.get("transform_param").get("crop_size")) if layer.has("transform_param") else 0
    if crop:
        return batch, [channels, crop, crop]
    if layer.has("image_data_param"):
        p = layer.get("image_data_param")
        if p.get("new_height") and p.get("new_width"):
            return batch, [channels, int(p.get("new_height")), int(p.get("new_width"))]
    return batch, [channels, DEFAULT_IMAGE_SIDE, DEFAULT_IMAGE_SIDE]


# ---------------------------------------------------------------------------
# Measuring with real pycaffe, in a child process
# ---------------------------------------------------------------------------


class Measured(Record):
    """What real pycaffe did: one forward, then ``net.backward(start=..., end=...)``."""

    __slots__ = ("ok", "layer_names", "blob_names", "outputs", "blob_diff_nonzero", "param_diff_nonzero", "seeded",
                 "start_index", "end_index", "error", "stage")
    ok: bool
    layer_names: List[str]
    blob_names: List[str]
    outputs: List[str]
    #: per blob id (blob names can repeat: "(automatic)")
    blob_diff_nonzero: List[bool]
    #: layer index -> per parameter blob
    param_diff_nonzero: Dict[int, List[bool]]
    seeded: List[str]
    start_index: int
    end_index: int
    error: Optional[str]  # Caffe's fatal message, or the Python exception
    stage: Optional[str]  # "load" | "forward" | "backward" when it failed

    def __init__(
        self,
        ok: bool,
        layer_names: Optional[List[str]] = None,
        blob_names: Optional[List[str]] = None,
        outputs: Optional[List[str]] = None,
        blob_diff_nonzero: Optional[List[bool]] = None,
        param_diff_nonzero: Optional[Dict[int, List[bool]]] = None,
        seeded: Optional[List[str]] = None,
        start_index: int = 0,
        end_index: int = 0,
        error: Optional[str] = None,
        stage: Optional[str] = None,
    ) -> None:
        self.ok = ok
        self.layer_names = [] if layer_names is None else layer_names
        self.blob_names = [] if blob_names is None else blob_names
        self.outputs = [] if outputs is None else outputs
        self.blob_diff_nonzero = [] if blob_diff_nonzero is None else blob_diff_nonzero
        self.param_diff_nonzero = {} if param_diff_nonzero is None else param_diff_nonzero
        self.seeded = [] if seeded is None else seeded
        self.start_index = start_index
        self.end_index = end_index
        self.error = error
        self.stage = stage

    def diff_of(self, blob: str) -> bool:
        return self.blob_diff_nonzero[self.blob_names.index(blob)]


class MeasureRequest(Record):
    """One net to build and one forward + backward to run, for ``measure_many``."""

    __slots__ = ("net_text", "phase", "level", "stages", "start", "end", "seeds", "labels", "weights",
                 "randomize_params", "random_seed")
    net_text: str
    phase: str
    level: int
    stages: Sequence[str]
    start: Optional[str]
    end: Optional[str]
    #: None: the net outputs when the net has no loss, else none
    seeds: Optional[Sequence[str]]
    labels: Sequence[str]
    weights: Optional[str]
    randomize_params: bool
    #: seeds Caffe's generator (fillers, DummyData, Dropout) and the random inputs and diffs
    random_seed: int

    def __init__(
        self,
        net_text: str,
        phase: str = DEFAULT_PHASE,
        level: int = 0,
        stages: Sequence[str] = (),
        start: Optional[str] = None,
        end: Optional[str] = None,
        seeds: Optional[Sequence[str]] = None,
        labels: Sequence[str] = (),
        weights: Optional[str] = None,
        randomize_params: bool = True,
        random_seed: int = 1701,
    ) -> None:
        self.net_text = net_text
        self.phase = phase
        self.level = level
        self.stages = stages
        self.start = start
        self.end = end
        self.seeds = seeds
        self.labels = labels
        self.weights = weights
        self.randomize_params = randomize_params
        self.random_seed = random_seed


def measure_backward(
    net_text: str,
    *,
    phase: str = DEFAULT_PHASE,
    level: int = 0,
    stages: Sequence[str] = (),
    start: Optional[str] = None,
    end: Optional[str] = None,
    seeds: Optional[Sequence[str]] = None,
    labels: Sequence[str] = (),
    weights: Optional[str] = None,
    randomize_params: bool = True,
    timeout: float = MEASURE_TIMEOUT,
) -> Measured:
    """Build ``net_text`` with real pycaffe in a child process and run it once.

    Inputs get N(0,1) data (label blobs: 0/1). ``seeds``: blobs whose diff is
    filled with N(0,1) after forward (None: the net outputs when the net has no
    loss, else none). ``randomize_params`` (ignored with ``weights``): fill every
    parameter with N(0,0.5) (BatchNorm statistics: mean 0, variance 1) so that a
    constant-zero filler does not hide a gradient.
    """
    request = MeasureRequest(net_text, phase, level, stages, start, end, seeds, labels, weights, randomize_params)
    return measure_many([request], timeout=timeout)[0]


def measure_many(requests: Sequence[MeasureRequest], timeout: float = MEASURE_TIMEOUT) -> List[Measured]:
    """``measure_backward`` for many nets, sharing child processes (pycaffe imports once per child).

    A net that makes Caffe abort ends its child; it gets the abort message and
    the nets after it run in a new child. ``timeout`` is per net.
    """
    results: List[Measured] = []
    with tempfile.TemporaryDirectory(prefix="backprop-lint-verify-") as workdir:
        payload = []
        for i, request in enumerate(requests):
            net_path = Path(workdir) / f"net{i}.prototxt"
            net_path.write_text(request.net_text, encoding="utf-8")
            payload.append(_request_json(request, str(net_path)))
        while len(results) < len(payload):
            results.extend(_run_child(payload[len(results):], workdir, timeout))
    return results


def _request_json(request: MeasureRequest, net_path: str) -> Dict[str, Any]:
    return {
        "net": net_path, "phase": request.phase, "level": request.level, "stages": list(request.stages),
        "start": request.start, "end": request.end,
        "seeds": None if request.seeds is None else list(request.seeds), "labels": list(request.labels),
        "weights": None if request.weights is None else str(Path(request.weights).resolve()),
        "randomize_params": request.randomize_params and request.weights is None,
        "random_seed": request.random_seed,
    }


def _run_child(payload: List[Dict[str, Any]], workdir: str, timeout: float) -> List[Measured]:
    """Run the requests in one child; at least one result comes back (the failure, if it died)."""
    try:
        process = subprocess.run(
            [sys.executable, "-m", "backprop_lint.backward.pycaffe"], input=json.dumps(payload),
            cwd=workdir, capture_output=True, text=True, errors="replace",
            env=_child_environment(), timeout=timeout * len(payload),
        )
        stdout, stderr, returncode = process.stdout, process.stderr, process.returncode
    except subprocess.TimeoutExpired as expired:
        stdout = _text(expired.stdout)
        stderr = _text(expired.stderr) + f"\nbackprop-lint: pycaffe timed out after {timeout:g} s per net"
        returncode = -1
    results = [_measured(json.loads(line)) for line in stdout.splitlines() if line.startswith("{")]
    if len(results) < len(payload) and (returncode != 0 or not results):
        results.append(_failure(stderr, returncode))
    return results


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _child_environment() -> Dict[str, str]:
    environment = dict(os.environ)
    # The folder holding backprop_lint/ (never backprop_lint/ itself: its caffe/ would shadow pycaffe).
    package_root = str(Path(__file__).resolve().parents[2])
    paths = [package_root, str(caffe_python_dir())]
    if environment.get("PYTHONPATH"):
        paths.append(environment["PYTHONPATH"])
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    environment.setdefault("GLOG_minloglevel", "2")
    return environment


def _measured(data: Dict[str, Any]) -> Measured:
    if "error" in data:
        return Measured(False, error=data["error"], stage=data.get("stage"))
    data["param_diff_nonzero"] = {int(k): v for k, v in data["param_diff_nonzero"].items()}
    return Measured(True, **data)


def _failure(stderr: str, returncode: int) -> Measured:
    """The net that made the child die: Caffe's fatal message and the stage it died in."""
    stage = "load"
    fatal = None
    for line in stderr.splitlines():
        line = line.strip()
        if line.startswith("backprop-lint: running "):
            stage, fatal = line.split()[-1], None  # a new net or stage: earlier messages are not its
        elif line.startswith("backprop-lint: loading"):
            stage, fatal = "load", None
        elif fatal is None and _GLOG_FATAL.match(line):
            fatal = _GLOG_FATAL.match(line).group(1).strip()  # type: ignore[union-attr]
    lines = [line for line in stderr.splitlines() if line.strip()]
    message = fatal or (lines[-1] if lines else f"exit status {returncode}")
    return Measured(False, error=message, stage=stage)


# ---------------------------------------------------------------------------
# Prediction against measurement
# ---------------------------------------------------------------------------


class Disagreement(Record):
    """One thing the prediction and real pycaffe disagree on."""

    __slots__ = ("what", "name", "predicted", "measured")
    what: str  # "blob" | "param" | "structure" | "run"
    name: str
    predicted: Any
    measured: Any

    def __init__(self, what: str, name: str, predicted: Any, measured: Any) -> None:
        self.what = what
        self.name = name
        self.predicted = predicted
        self.measured = measured


class VerifyReport(Record):
    """The prediction against one measurement with real pycaffe."""

    __slots__ = ("file", "phase", "start", "end", "seeds", "replaced", "measured", "predicted_blobs", "compared",
                 "unknown", "disagreements")
    file: str
    phase: str
    start: Optional[str]
    end: Optional[str]
    seeds: List[str]
    replaced: List[str]  # messages about replaced data layers
    measured: Measured
    predicted_blobs: Dict[str, Any]  # blob name -> Tri (first blob of that name)
    compared: int
    unknown: int
    disagreements: List[Disagreement]

    def __init__(
        self,
        file: str,
        phase: str,
        start: Optional[str],
        end: Optional[str],
        seeds: List[str],
        replaced: List[str],
        measured: Measured,
        predicted_blobs: Dict[str, Any],
        compared: int = 0,
        unknown: int = 0,
        disagreements: Optional[List[Disagreement]] = None,
    ) -> None:
        self.file = file
        self.phase = phase
        self.start = start
        self.end = end
        self.seeds = seeds
        self.replaced = replaced
        self.measured = measured
        self.predicted_blobs = predicted_blobs
        self.compared = compared
        self.unknown = unknown
        self.disagreements = [] if disagreements is None else disagreements

    @property
    def agrees(self) -> bool:
        return not self.disagreements

    def to_json(self) -> Dict[str, Any]:
        return {
            "file": self.file, "phase": self.phase, "start": self.start, "end": self.end, "seeds": self.seeds,
            "replaced_data_layers": self.replaced, "compared": self.compared, "unknown": self.unknown,
            "agrees": self.agrees, "measured_ok": self.measured.ok, "measured_error": self.measured.error,
            "measured_stage": self.measured.stage,
            "disagreements": [d.as_dict() for d in self.disagreements],
            "predicted_blob_diff_nonzero": self.predicted_blobs,
            "measured_blob_diff_nonzero": dict(zip(self.measured.blob_names, self.measured.blob_diff_nonzero)),
        }


def verify_backward(
    source: Any,
    *,
    phase: str = DEFAULT_PHASE,
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    start: Optional[str] = None,
    end: Optional[str] = None,
    seeds: Optional[Sequence[str]] = None,
    weights: Optional[str] = None,
    timeout: float = MEASURE_TIMEOUT,
    build: Any = None,
) -> VerifyReport:
    """Predict, then measure with real pycaffe, one forward + ``net.backward(start, end)``.

    Raises ``NetRefused`` (Python layers, or a net our simulation says Caffe
    refuses), ``InputError`` and ``UnsupportedInput`` (unreplaceable data layers).
    """
    from backprop_lint.backward.plan import resolve_layer
    from backprop_lint.caffe.simulate import outputs_of, run_backward

    base_dir = Path(source).parent if isinstance(source, (str, Path)) and Path(str(source)).is_file() else None
    runnable = runnable_net(source, flavor=flavor, base_dir=base_dir)
    prepared = prepare_source(runnable.text, phase=phase, level=level, stages=stages, flavor=flavor, build=build)
    file = str(source) if base_dir is not None else prepared.file
    built = init_net(prepared, declared_layer_infos(None))
    n = len(built.layers)
    indexes = []
    for option, name, default in (("start", start, n - 1), ("end", end, 0)):
        if name is None:
            indexes.append(default)
            continue
        index, issue = resolve_layer(built, option, name)
        if issue is not None and issue.fatal:
            hint = f" (use {issue.suggestion!r})" if issue.suggestion else ""
            raise InputError(issue.problem + hint)
        assert index is not None
        indexes.append(index)
    has_loss = any(w != 0 for w in built.blob_loss_weights)
    seed_names = list(seeds) if seeds is not None else ([] if has_loss else outputs_of(built))
    missing = [s for s in seed_names if s not in built.name_to_id]
    if missing:
        raise InputError(f"no blob named {missing[0]!r} to seed")
    result = run_backward(built, [built.name_to_id[s] for s in seed_names], start=indexes[0], end=indexes[1])
    measured = measure_backward(
        runnable.text, phase=phase, level=level, stages=stages, start=start, end=end, seeds=seed_names,
        labels=runnable.labels, weights=weights, timeout=timeout,
    )
    predicted_blobs: Dict[str, Any] = {}
    for blob_id, name in enumerate(built.blob_names):
        predicted_blobs.setdefault(name, result.blob_diff_nonzero[blob_id])
    report = VerifyReport(file, phase, start, end, seed_names, runnable.messages, measured, predicted_blobs)
    _compare(report, built, result)
    return report


def _compare(report: VerifyReport, built: Any, result: Any) -> None:
    measured = report.measured
    names = [layer.definition.name for layer in built.layers]
    predicted_abort = any(v is True for v in result.aborts.values())
    if not measured.ok:
        if measured.stage == "backward" and predicted_abort:
            report.compared += 1
            return
        report.disagreements.append(Disagreement("run", measured.stage or "load", "runs" if not predicted_abort
                                                 else "backward aborts", f"fails: {measured.error}"))
        return
    if predicted_abort:
        report.disagreements.append(Disagreement("run", "backward", "backward aborts", "backward ran"))
    if measured.layer_names != names or measured.blob_names != built.blob_names:
        report.disagreements.append(Disagreement("structure", "layers/blobs", names, measured.layer_names))
        return
    for blob_id, name in enumerate(built.blob_names):
        _tally(report, "blob", name, result.blob_diff_nonzero[blob_id], measured.blob_diff_nonzero[blob_id])
    for index, cells in measured.param_diff_nonzero.items():
        predicted = result.param_diff_nonzero.get(index, [])
        for p, value in enumerate(cells):
            guess = predicted[p] if p < len(predicted) else None
            _tally(report, "param", f"{names[index]}[{p}]", guess, value)


def _tally(report: VerifyReport, what: str, name: str, predicted: Any, measured: bool) -> None:
    if predicted is None:
        report.unknown += 1
        return
    report.compared += 1
    if bool(predicted) != measured:
        report.disagreements.append(Disagreement(what, name, predicted, measured))


def _child_main(request: Dict[str, Any]) -> Dict[str, Any]:
    """Runs in the child process: pycaffe, one forward, one backward."""
    import numpy as np

    caffe = import_caffe()
    caffe.set_mode_cpu()
    # Caffe's own generator fills weights and DummyData, and draws Dropout masks:
    # seeded, every measurement of the same request gives the same diffs.
    caffe.set_random_seed(request["random_seed"])
    phase = caffe.TEST if request["phase"] == "TEST" else caffe.TRAIN
    net = caffe.Net(request["net"], phase, level=request["level"], stages=request["stages"] or None,
                    weights=request["weights"])
    layer_names = [str(n) for n in net._layer_names]
    blob_names = [str(n) for n in net._blob_names]
    rng = np.random.RandomState(request["random_seed"])
    if request["randomize_params"]:
        for layer in net.layers:
            _randomize(layer, rng)
    for index in net._inputs:
        blob = net._blobs[index]
        label = blob_names[index] in request["labels"] or blob_names[index].startswith("label")
        blob.data[...] = (np.arange(blob.count).reshape(blob.data.shape) % 2) if label else rng.randn(*blob.data.shape)
    has_loss = any(w != 0 for w in net._blob_loss_weights)
    seeds = request["seeds"]
    if seeds is None:
        seeds = [] if has_loss else [blob_names[i] for i in net._outputs]
    n = len(layer_names)
    # pycaffe's Net.backward: list(net._layer_names).index(name) (the first match)
    start = layer_names.index(request["start"]) if request["start"] is not None else n - 1
    end = layer_names.index(request["end"]) if request["end"] is not None else 0
    sys.stderr.write("backprop-lint: running forward\n")
    sys.stderr.flush()
    net._forward(0, n - 1)
    for name in seeds:
        blob = net._blobs[blob_names.index(name)]
        blob.diff[...] = rng.randn(*blob.diff.shape)
    sys.stderr.write("backprop-lint: running backward\n")
    sys.stderr.flush()
    net._backward(start, end)
    return {
        "layer_names": layer_names,
        "blob_names": blob_names,
        "outputs": [blob_names[i] for i in net._outputs],
        "blob_diff_nonzero": [bool(np.any(blob.diff != 0)) for blob in net._blobs],
        "param_diff_nonzero": {
            str(i): [bool(np.any(p.diff != 0)) for p in layer.blobs] for i, layer in enumerate(net.layers) if len(layer.blobs)
        },
        "seeded": list(seeds),
        "start_index": start,
        "end_index": end,
    }


def _randomize(layer: Any, rng: Any) -> None:
    if str(layer.type) == "BatchNorm" and len(layer.blobs) >= 3:
        layer.blobs[0].data[...] = 0
        layer.blobs[1].data[...] = 1
        layer.blobs[2].data[...] = 1
        return
    for blob in layer.blobs:
        blob.data[...] = 0.5 * rng.randn(*blob.data.shape)


def _main(argv: Sequence[str]) -> int:
    """The child: a JSON list of requests on stdin, one JSON result line per request on stdout."""
    if argv:
        sys.stderr.write("usage: python -m backprop_lint.backward.pycaffe < REQUESTS_JSON (internal: used by verify)\n")
        return 2
    for request in json.loads(sys.stdin.read()):
        sys.stderr.write("backprop-lint: loading\n")
        sys.stderr.flush()
        try:
            result = _child_main(request)
        except (ValueError, KeyError, RuntimeError, PycaffeUnavailable) as error:
            result = {"error": f"{type(error).__name__}: {error}", "stage": "python"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
