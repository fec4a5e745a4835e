"""Pictures of a net, coloured by what Caffe's backward does (``backprop-lint graph``).

``view`` reads a simulated net (and the linter's findings, and optionally a
backward plan) into plain nodes and edges with a state and a chain of
reasons each; it decides nothing about Caffe itself. ``dot`` writes them as
Graphviz DOT, ``svg`` runs Graphviz's ``dot`` and puts the reasons in each
node's ``<title>``, ``html`` wraps the SVG into one self-contained page with a
side panel.
"""
