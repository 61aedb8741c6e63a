"""Registers the execution backends that gc.compile can use."""
from graphc.backends.numba_backend.backend import NumbaBackend
from graphc.backends.numpy_backend import NumpyBackend

from .compile import register_backend

register_backend("numpy", NumpyBackend)
register_backend("numba", NumbaBackend)
