"""Settings for the benchmark: production settings plus the bench-only floor URL.

Everything else (DEBUG off, the pool, Redis, the cached template loaders that Django turns
on when DEBUG is off) comes from repairshop.settings and the environment the runner sets,
so the numbers are those of a production process.
"""

from repairshop.settings import *  # noqa: F403
from repairshop.settings import BASE_DIR

# The floor URL lives in a urlconf of its own so that it can never reach production.
ROOT_URLCONF = "bench.urls"

# collectstatic of the runner goes under the git-ignored bench/results/, not the shared
# STATIC_ROOT of the checkout.
STATIC_ROOT = BASE_DIR / "bench" / "results" / "static"
