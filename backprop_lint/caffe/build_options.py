"""Which optional parts the user's Caffe was built with: a user setting.

A Caffe build registers some layer types only with an option on, and its
layer creators serve ``engine: CUDNN`` only with cuDNN:

========  =====================  ==================================================
option    Caffe macro            what it changes
========  =====================  ==================================================
opencv    ``USE_OPENCV``         ImageData, WindowData (and the SSD lineage's
                                 VideoData) are registered only inside
                                 ``#ifdef USE_OPENCV`` (U:src/caffe/layers/
                                 image_data_layer.cpp:1,179; window_data_layer.cpp:1,476)
hdf5      ``USE_HDF5``           BVLC's HDF5Data and HDF5Output (U:src/caffe/layers/
                                 hdf5_data_layer.cpp:1,188; hdf5_output_layer.cpp:1,63-66);
                                 the SSD lineage registers them unconditionally
python    ``WITH_PYTHON_LAYER``  the ``Python`` type (U:src/caffe/layer_factory.cpp:290-305)
cudnn     ``USE_CUDNN``          ``engine: CUDNN`` on Convolution, Deconvolution,
                                 Pooling, LRN, ReLU, Sigmoid, Softmax, TanH; without
                                 it Caffe refuses: "Layer X has unknown engine."
                                 (U:src/caffe/layer_factory.cpp:39-288)
========  =====================  ==================================================

Defaults (``USUAL_BUILD``) are the build most users have: BVLC's CMake
defaults (U:CMakeLists.txt:38,39,46: BUILD_python_layer, USE_OPENCV and
USE_HDF5 ON; line 31: USE_CUDNN only when not CPU_ONLY) for both flavours, without cuDNN, so
that a net asking for ``engine: CUDNN`` is flagged as refused by a CPU build.
``ORACLE_BUILDS`` are the builds of the two real Caffes this project is judged
by (tools/oracle/build.sh): the tests compare with each using exactly its options.
"""
from __future__ import annotations

from backprop_lint.caffe.layer_table import BVLC, SSD, USE_CUDNN, USE_HDF5, USE_OPENCV, WITH_PYTHON_LAYER
from backprop_lint.caffe.model import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict, FrozenSet, Iterable, Mapping, Optional, Union

    #: a build as a user writes it: ``"opencv,no-cudnn"`` or ``{"opencv": True, "cudnn": False}``
    BuildSetting = Union[str, Mapping[str, bool], Iterable[str], None]

#: user-facing option name -> the Caffe macro it stands for
OPTIONS: Dict[str, str] = {
    "opencv": USE_OPENCV,
    "hdf5": USE_HDF5,
    "python": WITH_PYTHON_LAYER,
    "cudnn": USE_CUDNN,
}

#: a user's usual build, per flavour
USUAL_BUILD: Dict[str, FrozenSet[str]] = {
    BVLC: frozenset({USE_OPENCV, USE_HDF5, WITH_PYTHON_LAYER}),
    SSD: frozenset({USE_OPENCV, USE_HDF5, WITH_PYTHON_LAYER}),
}

#: the oracles' builds (tools/oracle/build.sh), as their registries list them
#: (tools/oracle/layer_types.cpp; tests/test_build_options.py compares). ssd:
#: brocolli-caffe's CMake defaults (USE_OPENCV, USE_HDF5, USE_LMDB, USE_LEVELDB OFF,
#: L:CMakeLists.txt:41-49); although build.sh passes -DBUILD_python_layer=ON, that
#: build registers no Python type. bvlc: -DUSE_OPENCV=OFF, -DBUILD_python=OFF (so no
#: Python layer), HDF5 at its default ON. Both CPU only.
ORACLE_BUILDS: Dict[str, FrozenSet[str]] = {
    SSD: frozenset(),
    BVLC: frozenset({USE_HDF5}),
}

def parse_build_flag(text: str) -> Dict[str, bool]:
    """``--build opencv,no-python`` -> {"opencv": True, "python": False}; a clear error otherwise."""
    settings: Dict[str, bool] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        on = not item.startswith("no-")
        name = item if on else item[len("no-"):]
        if name not in OPTIONS:
            raise InputError(f"unknown build option {item!r} in --build: expected "
                             f"{', '.join(OPTIONS)} (each optionally prefixed with no-)")
        settings[name] = on
    return settings


def check_build_table(table: Mapping[str, object], where: str) -> Dict[str, bool]:
    """A configuration's ``build = {opencv = true, ...}`` table, checked."""
    settings: Dict[str, bool] = {}
    for name, value in table.items():
        if name not in OPTIONS:
            raise InputError(f"{where}: unknown build option {name!r}; allowed: {', '.join(OPTIONS)}")
        if not isinstance(value, bool):
            raise InputError(f"{where}: build option {name!r} must be true or false, got {value!r}")
        settings[name] = value
    return settings


def resolve_build(flavor: str, setting: BuildSetting = None) -> FrozenSet[str]:
    """The Caffe macros ON in the user's build: the flavour's usual build with ``setting`` applied.

    ``setting`` is a ``--build`` string, a mapping of option name to on/off (options
    not named keep the flavour's default), or None for the usual build.
    """
    build = set(USUAL_BUILD[flavor])
    if setting is None:
        return frozenset(build)
    if isinstance(setting, str):
        settings = parse_build_flag(setting)
    elif hasattr(setting, "items"):  # a mapping (collections.abc is not imported for isinstance)
        settings = check_build_table(setting, "build")
    else:
        raise InputError(f"build: expected a string or a table of option = true/false, got {type(setting).__name__}")
    for name, on in settings.items():
        (build.add if on else build.discard)(OPTIONS[name])
    return frozenset(build)


def describe_build(build: FrozenSet[str]) -> str:
    """``opencv, hdf5, python`` (the user's names of the options ON), or ``no optional parts``."""
    names = [name for name, macro in OPTIONS.items() if macro in build]
    return ", ".join(names) if names else "no optional parts"


def build_setting_of(build: FrozenSet[str]) -> Dict[str, bool]:
    """The full ``{option: on}`` table that ``resolve_build`` turns back into ``build``."""
    return {name: macro in build for name, macro in OPTIONS.items()}


def oracle_build(flavor: str) -> Optional[FrozenSet[str]]:
    """The build options of the real Caffe that judges ``flavor``."""
    return ORACLE_BUILDS.get(flavor)
