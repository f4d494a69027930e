"""``python -m budget_exporter.cli``: the same as the ``budget-exporter`` command."""

import sys

from .commands import main

sys.exit(main())
