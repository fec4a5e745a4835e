"""The Caffe flavours backprop-lint knows, and how they differ, as data.

``U:`` cites BVLC/caffe master at 9b89154 (BVLC 1.0 behaves the same here);
``L:`` cites the SSD-lineage tree of the PyPI sdist brocolli-caffe 9.0.2,
which is the oracle this project is checked against.

Only differences in loading and upgrading live here. What each layer type
does, and which types a flavour registers, is in ``layer_table.py``.
"""
from __future__ import annotations

from backprop_lint.caffe.records import FrozenRecord, NamedConstant

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar, Dict


class BatchNormUpgrade(NamedConstant):
    """What ``UpgradeNetBatchNorm`` does to a BatchNorm layer that declares exactly 3 ``param {}``."""

    __slots__ = ()

    ZERO_LR_AND_DECAY: ClassVar[BatchNormUpgrade]
    CLEAR_PARAMS: ClassVar[BatchNormUpgrade]


#: keep the three specs (names, share_mode) but set ``lr_mult: 0, decay_mult: 0`` on each
BatchNormUpgrade.ZERO_LR_AND_DECAY = BatchNormUpgrade("ZERO_LR_AND_DECAY", "zero-lr-and-decay")
#: drop the three specs, so the net's copy of the layer has no ``param`` (default lr_mult 1)
BatchNormUpgrade.CLEAR_PARAMS = BatchNormUpgrade("CLEAR_PARAMS", "clear-params")


class Flavor(FrozenRecord):
    """One Caffe code line's loading behaviour (an immutable record; a named tuple class would
    compile its constructor at every start, for two rows)."""

    __slots__ = ("name", "description", "batchnorm_upgrade", "batchnorm_checks_stats_lr",
                 "batchnorm_upgrade_source", "batchnorm_stats_source")
    name: str
    description: str
    batchnorm_upgrade: BatchNormUpgrade
    #: BatchNorm::LayerSetUp CHECKs that explicit specs of its 3 statistics blobs have lr_mult 0
    #: ("Cannot configure batch normalization statistics as layer parameters.") and appends
    #: ``lr_mult: 0`` specs for the missing ones
    batchnorm_checks_stats_lr: bool
    #: where the two behaviours above come from
    batchnorm_upgrade_source: str
    batchnorm_stats_source: str

    def __init__(self, name: str, description: str, batchnorm_upgrade: BatchNormUpgrade,
                 batchnorm_checks_stats_lr: bool, batchnorm_upgrade_source: str, batchnorm_stats_source: str) -> None:
        self._set(name, description, batchnorm_upgrade, batchnorm_checks_stats_lr, batchnorm_upgrade_source,
                  batchnorm_stats_source)


BVLC = Flavor(
    name="bvlc",
    description="BVLC Caffe 1.0 / master (the last upstream commit, 9b89154)",
    batchnorm_upgrade=BatchNormUpgrade.ZERO_LR_AND_DECAY,
    batchnorm_checks_stats_lr=True,
    batchnorm_upgrade_source="U:src/caffe/util/upgrade_proto.cpp:1017-1032 (UpgradeNetBatchNorm)",
    batchnorm_stats_source="U:src/caffe/layers/batch_norm_layer.cpp:37-47 (LayerSetUp)",
)

SSD = Flavor(
    name="ssd",
    description="the SSD lineage (weiliu89/caffe, 2016) as shipped by brocolli-caffe 9.0.2",
    batchnorm_upgrade=BatchNormUpgrade.CLEAR_PARAMS,
    batchnorm_checks_stats_lr=False,
    batchnorm_upgrade_source="L:src/caffe/util/upgrade_proto.cpp:1026-1035 (UpgradeNetBatchNorm: clear_param)",
    batchnorm_stats_source="L:src/caffe/layers/batch_norm_layer.cpp:9-36 (LayerSetUp: no statistics masking)",
)

FLAVORS: Dict[str, Flavor] = {flavor.name: flavor for flavor in (BVLC, SSD)}

DEFAULT_FLAVOR = BVLC.name


class UnknownFlavorError(ValueError):
    """A flavour name that is not in ``FLAVORS``."""


def get_flavor(name: str) -> Flavor:
    """The flavour called ``name`` ("bvlc" or "ssd"); a clear error for anything else."""
    try:
        return FLAVORS[name]
    except KeyError:
        known = ", ".join(sorted(FLAVORS))
        raise UnknownFlavorError(f"unknown Caffe flavour {name!r}: expected one of {known}") from None
