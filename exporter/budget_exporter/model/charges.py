"""How charges count: their categories and when a charge longer than a day accrues.

Names only, no frames, so that settings naming them (the config's, each provider's) load
without pandas.
"""

from __future__ import annotations

from typing import Literal

# When a charge whose period is longer than a day counts. ``charge_start``: in full at the start
# of its charge period, as the provider's console and budgets show a cash basis (unblended,
# BilledCost, ActualCost); ``pro_rata``: spread evenly over it, as amortized bases are.
Accrual = Literal["charge_start", "pro_rata"]
ACCRUALS: tuple[Accrual, ...] = ("charge_start", "pro_rata")


CHARGE_CATEGORIES = ("usage", "purchase", "tax", "credit", "refund")
