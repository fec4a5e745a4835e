"""BVLC/caffe pull request #5630 (CRF-as-RNN): ``MultiStageMeanfield``.

The PR was never merged. The layer runs ``num_iterations`` mean-field steps
(at least 2: LayerSetUp CHECKs it, and the default is 1) on three bottoms:
the unaries, the initial Q (the unaries again in the PR's nets) and the RGB
image. It has three learnable blobs (spatial and bilateral kernel weights, the
compatibility matrix). Backward runs its inner Split and Softmax layers with
``propagate_down`` forced to true, so bottoms 0 and 1 get a diff whatever the
net asks; the image (bottom 2) never gets one.
"""
from __future__ import annotations

from backprop_lint.caffe.model import Message
from backprop_lint.caffe.packs.base import ONE, Backward, Count, Pack, per_bottom, preloaded_or, row, sub_value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def num_iterations_check(layer_param: Message, n_bottoms: int, n_tops: int) -> Optional[str]:
    iterations = sub_value(layer_param, "multi_stage_meanfield_param", "num_iterations", 1)
    if iterations <= 1:
        return (f"Check failed: num_iterations_ > 1 ({iterations} vs. 1) "
                "Number of iterations must be greater than 1.")
    return None


PACK = Pack(
    name="crf-rnn-pr5630",
    fork="BVLC/caffe PR #5630 (CRF-as-RNN)",
    repository="BVLC/caffe",
    commit="5ab03d3d1f80be6657e457a7ebfb917e32161944",
    root="",
    summary="PR #5630's MultiStageMeanfield (unaries, Q, image; 3 learnable blobs)",
    rows=(
        row("MultiStageMeanfield", Count(exact=3), ONE, preloaded_or(3),
            per_bottom({0: Backward.IGNORES_PD, 1: Backward.IGNORES_PD}, Backward.NEVER),
            "include/caffe/layers/meanfield_layers.hpp:107-140; src/caffe/layers/multi_stage_meanfield.cpp:33-42,"
            "62-66,76-91,105-118,173-200,229-249,334-335; src/caffe/layers/meanfield_iteration.cpp:169-174,240-241; "
            "src/caffe/layers/multi_stage_meanfield.cu:103-138",
            check=num_iterations_check,
            notes="Backward calls the inner Split (bottom 0) and Softmax (bottom 1) Backward with propagate_down "
                  "true; bottom 2 (the image) is only read; the three blobs' diffs follow param_propagate_down"),
    ),
)
