"""The model of Caffe: what real Caffe does with a net, stage by stage as ``Net::Init`` does it.

load (``load``, ``textproto``, ``pbconvert``) -> upgrade (``upgrade``) ->
filter (``filter``) -> insert splits (``splits``) -> simulate (``simulate``),
chained by ``pipeline``; knowledge about layer types in ``layer_table``,
differences between Caffe builds in ``flavors``, Caffe's schema in ``schema``,
the plain data passed between the stages in ``model``.

It owns every claim about Caffe's behaviour and is judged by real Caffe.
It imports nothing else of backprop-lint: it knows nothing of findings,
rules, configuration files, reporters or terminals.
"""
