"""``python -m backprop_lint``: the same as the ``backprop-lint`` command."""

from .cli import main

raise SystemExit(main())
