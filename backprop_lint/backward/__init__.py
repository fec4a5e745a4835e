"""The backward planner: pycaffe's ``net.backward(start=, end=)`` replayed on the simulated net.

``plan`` explains a call and proposes the corrected one; ``pycaffe`` is the
bridge to real pycaffe (when installed) that ``verify`` uses to compare
measured diffs with the prediction.

It may import ``backprop_lint.caffe`` only: not the linter, the reporters or
the command line.
"""
