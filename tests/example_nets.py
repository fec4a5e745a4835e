"""Small nets several test files lint, each with the finding it is there for.

The line layout matters (findings are located by line), so each net is given
as it is written, in one layout per name.
"""

# no loss, no force_backward: BL201 (net-level, located at the `name:` line), with a safe fix
# (insert `force_backward: true`)
NO_LOSS = """name: "features"
layer {
  name: "data"
  type: "Input"
  top: "data"
  input_param { shape { dim: 1 dim: 3 } }
}
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "data"
  top: "ip"
  inner_product_param { num_output: 4 }
}
"""

# Caffe refuses it in both phases: no layer produces "missing" (BL001, inside the `ip` layer block)
UNKNOWN_BOTTOM = """name: "broken"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer {
  name: "ip"
  type: "InnerProduct"
  bottom: "missing"
  top: "ip"
  inner_product_param { num_output: 4 }
}
"""

# the same two nets, a layer per line
NO_LOSS_ONE_LINE_LAYERS = """name: "features"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 4 } }
"""
UNKNOWN_BOTTOM_ONE_LINE_LAYERS = """name: "broken"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "missing" top: "ip" inner_product_param { num_output: 4 } }
"""
