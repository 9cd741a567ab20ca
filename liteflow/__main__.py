"""``python -m liteflow``: the ``liteflow`` command line."""

from liteflow.cli import main

raise SystemExit(main())
