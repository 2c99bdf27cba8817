"""Settings of the benchmarks: the test settings (DEBUG off, the whole middleware) with a
urlconf that adds the reference views (bench/reference.py), never part of the product."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
