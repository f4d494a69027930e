"""The ``budget-exporter`` command: serve, check, once, report, admit.

The top layer: may import every other one.
"""

from .commands import main

__all__ = ["main"]
