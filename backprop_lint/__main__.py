"""``python -m backprop_lint``: the same as the ``backprop-lint`` command."""

from .entry import main

raise SystemExit(main())
