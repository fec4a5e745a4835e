"""The linter: rules over the simulated net, and what users set around them.

``linter`` runs the rules (``rules/``, one ``Rule`` per code, each with its
page in the top-level ``rules/`` folder) over every net state of every file;
``findings`` is the data they produce; ``config`` reads the configuration,
``suppress`` the ``# backprop-lint: ignore`` comments, ``fix`` applies fixes.

It may import ``backprop_lint.caffe`` (rules read the simulated net and never
re-derive Caffe's logic); it never imports the backward planner, the
reporters or the command line, and knows nothing of terminals.
"""
