"""``python -m backprop_lint``: the same as the ``backprop-lint`` command."""

from backprop_lint.cli import console_main

console_main()
