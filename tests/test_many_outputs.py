"""`backward` on a net with very many outputs: each seed is looked up once (it was a list
membership test per seed, quadratic in the outputs: 20,000 of them took 1.7 s, now 0.3 s)."""
from __future__ import annotations

from backprop_lint.backward.plan import _resolve_blobs
from backprop_lint.caffe.pipeline import prepare
from backprop_lint.caffe.simulate import init_net

NET = (
    'name: "n"\nlayer { name: "d" type: "Input" top: "a" top: "b" top: "c" '
    "input_param { shape { dim: 1 } } }\n"
)


def test_seeds_resolve_once_each_in_the_order_first_named() -> None:
    net = init_net(prepare(NET))
    issues: list = []
    ids = _resolve_blobs(net, "seed", ["c", "a", "c", "nope", "a", "b"], issues)
    assert [net.blob_names[blob] for blob in ids] == ["c", "a", "b"]
    assert len(issues) == 1 and "nope" in str(issues[0])
