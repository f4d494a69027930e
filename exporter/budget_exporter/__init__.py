"""Prometheus exporter for cost budgets and SLO error budgets."""

import os

# Set before numpy loads OpenBLAS: the maths here works on small vectors, where BLAS worker
# threads only spin; on a busy 2-core host they made each forecast model fit ~4x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
