"""Config + provider data + ``now`` -> one immutable snapshot, with the caches that make it fast.

May import ``model``, ``money``, ``slo`` and ``config``; never a provider module or I/O.
"""
