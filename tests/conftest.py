"""Shared test setup: a fast, reproducible hypothesis profile and the backend fixture."""
import os

# Every compile in the suite type-checks its graph after every pass (set before graphc loads).
os.environ.setdefault("GRAPHC_CHECK_TYPES", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings

from op_domains import BACKENDS  # noqa: E402

# Small and deterministic: the whole battery must stay fast, and a failure must reproduce.
settings.register_profile(
    "graphc",
    deadline=None,
    max_examples=15,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("graphc")


@pytest.fixture(params=BACKENDS)
def backend(request):
    """The execution backend under test; every value/gradient test runs once per entry."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
