"""The whole pipeline, top to bottom, as Caffe loads a net:

load -> upgrade -> filter -> insert splits -> simulate.

``prepare`` runs the first four stages, ``simulate`` the fifth; ``run_simulate``
is the ``backprop-lint simulate`` contract (the oracle's JSON keys) as a
library call.
"""
from __future__ import annotations


from backprop_lint.caffe.build_options import resolve_build
from backprop_lint.caffe.collector import gc_paused
from backprop_lint.caffe.filter import layer_defs, net_state_for, select_layers
from backprop_lint.caffe.flavors import Flavor, get_flavor
from backprop_lint.caffe.layer_table import LayerInfo
from backprop_lint.caffe.model import (
    BackpropLintError,
    InputError,
    LayerDef,
    LoadedNet,
    Message,
    NetRefused,
    PreparedNet,
    SimulatedNet,
    Warning_,
)
from backprop_lint.caffe.simulate import BuiltNet, Simulation, aborting_layers, build_layers, init_net, run_simulation
from backprop_lint.caffe.simulate import simulate as _simulate
from backprop_lint.caffe.splits import insert_splits

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

    from backprop_lint.caffe.build_options import BuildSetting
    from backprop_lint.caffe.simulate import SetUps


def prepare(
    source: Any,
    *,
    phase: str = "TRAIN",
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    strict: bool = False,
    file: Optional[str] = None,
    packs: Sequence[str] = (),
    build: BuildSetting = None,
) -> PreparedNet:
    """Load, upgrade, filter and insert splits, as ``caffe.Net(file, phase, level, stages)``.

    ``packs``: enabled layer packs (their fork's fields parse; ``simulate`` takes their rows).
    ``build``: the Caffe build's options (``build_options.resolve_build``); None: the usual build.
    """
    loaded = (source if isinstance(source, LoadedNet)
              else _load(source, flavor=flavor, strict=strict, file=file, packs=tuple(packs)))
    return prepare_loaded(loaded, phase=phase, level=level, stages=stages, flavor=flavor, build=build, packs=packs)


def _load(source: Any, *, flavor: str, strict: bool, file: Optional[str], packs: Tuple[str, ...] = ()) -> LoadedNet:
    from backprop_lint.caffe.load import load

    return load(source, flavor=flavor, strict=strict, file=file, packs=packs)


def prepare_loaded(
    loaded: LoadedNet,
    *,
    phase: str = "TRAIN",
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    build: BuildSetting = None,
    packs: Sequence[str] = (),
) -> PreparedNet:
    return NetStates(loaded, flavor, build=build, packs=packs).prepare(phase=phase, level=level, stages=stages)


class NetStates:
    """One loaded net in several net states, sharing the work the states have in common.

    The upgrade does not depend on the state, nor does a layer's LayerDef (built
    once for all the states that keep the layer); two states that keep the same
    layers get the same (split-inserted) layer list; and the simulation does
    not depend on the state either, so such states are simulated once. What
    SetUp decides for a LayerDef is decided once for all the builds
    (``build_layers``' ``setups``).
    """

    def __init__(
        self,
        loaded: LoadedNet,
        flavor: str = "bvlc",
        declared_layers: Optional[Mapping[str, Mapping[str, Any]]] = None,
        packs: Sequence[str] = (),
        build: BuildSetting = None,
    ) -> None:
        self.loaded = loaded
        self.flavor = get_flavor(flavor)
        self.declared_layers = declared_layers
        self.packs = tuple(packs)
        #: the Caffe macros ON in the user's build (build_options.resolve_build)
        self.build = resolve_build(self.flavor.name, build)
        self._upgraded: Optional[Tuple[Message, List[Warning_], Optional[str]]] = None
        #: index of a layer in the upgraded net -> its LayerDef, for every state that keeps it
        self._layer_defs: Dict[int, LayerDef] = {}
        self._layers: Dict[Tuple[int, ...], List[LayerDef]] = {}
        self._simulated: Dict[Tuple[int, bool], Tuple[List[LayerDef], SimulatedNet]] = {}
        self._built: Dict[Tuple[Any, ...], Tuple[List[LayerDef], BuiltNet]] = {}
        self._declared: Optional[Dict[str, LayerInfo]] = None
        self._forced_aborts: Dict[int, Tuple[List[LayerDef], List[str]]] = {}
        #: (flavour, build) -> what SetUp decided for each LayerDef (``build_layers``' ``setups``)
        self._setups: Dict[Tuple[str, Any], SetUps] = {}

    def upgraded(self) -> Tuple[Message, List[Warning_], Optional[str]]:
        """``upgrade`` of the loaded net (the same in every state): the net, its warnings, the format it was in."""
        if self._upgraded is None:
            self._upgraded = upgrade(self.loaded.net, self.flavor, self.loaded.file, self.packs)
        return self._upgraded

    def prepare(self, *, phase: str = "TRAIN", level: int = 0, stages: Sequence[str] = ()) -> PreparedNet:
        net, upgrade_warnings, upgraded_from = self.upgraded()
        state = net_state_for(net, phase, level, stages)
        kept, dropped = select_layers(net, state, self.loaded.file)
        key = tuple(kept)
        layers = self._layers.get(key)
        if layers is None:
            layers = self._layers[key] = insert_splits(self._layer_defs_of(net, kept))
        return PreparedNet(
            name=net.get("name"),
            file=self.loaded.file,
            state=state,
            force_backward=bool(net.get("force_backward")),
            layers=layers,
            flavor=self.flavor.name,
            filtered_out=dropped,
            warnings=list(self.loaded.warnings) + list(upgrade_warnings),
            upgraded_from=upgraded_from,
            net=net,
            build=self.build,
        )

    def _layer_defs_of(self, net: Message, kept: List[int]) -> List[LayerDef]:
        """``layer_defs(net, kept)``, each layer's LayerDef built once for all the states that keep it:
        a LayerDef does not depend on the state, and no stage changes one (``insert_splits`` copies
        those it renames)."""
        built = self._layer_defs
        missing = [index for index in kept if index not in built]
        if missing:
            built.update(zip(missing, layer_defs(net, missing, self.loaded.file)))
        return [built[index] for index in kept]

    def simulate(self, prepared: PreparedNet) -> SimulatedNet:
        """``simulate(prepared)`` with the declared layers and packs, reusing another state's run on the same layers."""
        key = (id(prepared.layers), prepared.force_backward)
        cached = self._simulated.get(key)
        if cached is not None and cached[0] is prepared.layers:
            return cached[1].replace(prepared=prepared)
        declared = self._declared_infos()
        simulated = _simulate(prepared, declared=declared, built=self._built_for(prepared, declared))
        self._simulated[key] = (prepared.layers, simulated)  # holding the list keeps its id unique
        return simulated

    def aborts_when_forced(self, prepared: PreparedNet) -> List[str]:
        """``simulate(prepared.replace(force_backward=True)).backward_aborts`` for the
        price of ``init_net``: the layers whose Backward would abort with
        ``force_backward: true`` (what a linter needs to call that fix safe)."""
        key = (id(prepared.layers), True)
        cached = self._simulated.get(key)
        if cached is not None and cached[0] is prepared.layers:
            return list(cached[1].backward_aborts)
        aborts = self._forced_aborts.get(id(prepared.layers))
        if aborts is None or aborts[0] is not prepared.layers:
            forced = prepared.replace(force_backward=True)
            declared = self._declared_infos()
            net = init_net(forced, declared, self._built_for(prepared, declared))
            aborts = self._forced_aborts[id(prepared.layers)] = (prepared.layers, aborting_layers(net))
        return list(aborts[1])

    def _built_for(self, prepared: PreparedNet, declared: Dict[str, LayerInfo]) -> BuiltNet:
        """``build_layers`` of ``prepared``, once per layer list, flavour and build."""
        built_key = (id(prepared.layers), prepared.flavor, prepared.build)
        built = self._built.get(built_key)
        if built is None or built[0] is not prepared.layers:
            # the forward construction pass does not read force_backward: the
            # force_backward re-simulation a fix asks for starts from this build
            setups = self._setups.setdefault((prepared.flavor, prepared.build), {})
            built = self._built[built_key] = (prepared.layers, build_layers(prepared, declared, setups))
        return built[1]

    def _declared_infos(self) -> Dict[str, LayerInfo]:
        if self._declared is None:
            self._declared = declared_layer_infos(self.declared_layers, self.packs)
        return self._declared


def upgrade(
    net: Message, flavor: Flavor, file: str, packs: Sequence[str] = ()
) -> Tuple[Message, List[Warning_], Optional[str]]:
    """``UpgradeNetAsNeeded``; its module is imported only for a net that may need it.
    ``packs``: the enabled layer packs (a fork's own V1 layer types upgrade with them)."""
    if not may_need_upgrade(net):
        return net, [], None
    from backprop_lint.caffe.upgrade import upgrade_net_as_needed

    return upgrade_net_as_needed(net, flavor, file, tuple(packs))


def may_need_upgrade(net: Message) -> bool:
    """False when none of upgrade.py's ``net_needs_*`` checks can hold: no V0/V1
    ``layers``, no ``input`` fields, no BatchNorm with exactly 3 ``param`` specs."""
    if net.repeated("layers") or net.repeated("input"):
        return True
    return any(
        layer.fields.get("type") == "BatchNorm" and len(layer.repeated("param")) == 3
        for layer in net.repeated("layer")
    )


def declared_layer_infos(
    declared: Optional[Mapping[str, Mapping[str, Any]]], packs: Sequence[str] = ()
) -> Dict[str, LayerInfo]:
    """LayerInfo rows for the enabled layer packs' types and the custom layers a user
    declared in the configuration (a declaration wins over a pack's row)."""
    rows: Dict[str, LayerInfo] = {}
    if packs:
        from backprop_lint.caffe.packs import pack_rows

        rows.update(pack_rows(packs))
    if declared:
        from backprop_lint.caffe.layer_table import declared_layer

        rows.update({name: declared_layer(name, dict(config)) for name, config in declared.items()})
    return rows


def simulate(
    prepared: PreparedNet,
    seeds: Optional[Sequence[str]] = None,
    declared_layers: Optional[Mapping[str, Mapping[str, Any]]] = None,
    packs: Sequence[str] = (),
) -> SimulatedNet:
    return _simulate(prepared, seeds=seeds, declared=declared_layer_infos(declared_layers, packs))


def _simulation_json(simulation: Simulation) -> Dict[str, Any]:
    """The ``backprop-lint simulate`` JSON: the oracle's keys plus the gradient flow.

    Written from the simulation itself, not from the ``SimulatedNet`` the rules read
    (``run_simulate`` needs nothing else: one record per layer less); both take their
    derived values from ``Simulation``, and a test checks they say the same."""
    net = simulation.net
    blob_names = net.blob_names
    return {
        "layers": [
            {
                "name": layer.definition.name,
                "type": simulation.reported_type(layer),
                "bottoms": list(map(blob_names.__getitem__, layer.bottom_ids)),
                "tops": layer.tops,
                "need_backward": layer.need_backward,
                "bottom_need_backward": layer.bottom_need_backward,
                "param_propagate_down": layer.param_propagate_down,
                "loss": [w if w == 0 else caffe_float(w) for w in layer.loss] if any(layer.loss) else list(layer.loss),
            }
            for layer in net.layers
        ],
        "blobs": list(blob_names),
        "inputs": simulation.inputs(),
        "outputs": simulation.outputs,
        "blob_diff_nonzero": simulation.blob_diff_nonzero(),
        "param_diff_nonzero": simulation.param_diff_nonzero(),
        "backward_aborts": simulation.backward_aborts(),
    }


def caffe_float(value: float) -> float:
    """A float as Caffe's oracle prints it (C++ ostream, 6 significant digits)."""
    return float(f"{value:.6g}")


def error_to_json(error: BackpropLintError) -> Dict[str, Any]:
    location = getattr(error, "location", None)
    fields = {
        "message": getattr(error, "message", str(error)),
        "layer": getattr(error, "layer", None),
        "line": location.line if location and location.line else None,
        "column": location.col if location and location.line else None,
        "kind": getattr(error, "kind", "input"),
    }
    if getattr(error, "explanation", ""):  # beyond Caffe's words: why no Caffe reads it, what to write
        fields["explanation"] = error.explanation  # type: ignore[attr-defined]
        fields["instead"] = error.instead  # type: ignore[attr-defined]
    return {"error": fields}


def run_simulate(
    source: Any,
    *,
    phase: str = "TRAIN",
    level: int = 0,
    stages: Sequence[str] = (),
    flavor: str = "bvlc",
    seeds: Optional[Sequence[str]] = None,
    strict: bool = False,
    declared_layers: Optional[Mapping[str, Mapping[str, Any]]] = None,
    packs: Sequence[str] = (),
    build: BuildSetting = None,
) -> Dict[str, Any]:
    """Exactly what ``backprop-lint simulate`` prints, refusals included."""
    try:
        with gc_paused():
            # One expression, no local: the nets are freed before the collector is back on
            # (which would otherwise rescan all their objects once).
            return _simulation_json(run_simulation(
                prepare(source, phase=phase, level=level, stages=stages, flavor=flavor, strict=strict,
                        packs=packs, build=build),
                seeds=seeds,
                declared=declared_layer_infos(declared_layers, packs),
            ))
    except (NetRefused, InputError) as error:
        return error_to_json(error)
