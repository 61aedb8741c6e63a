"""Registers the execution backends that gc.compile can use.

Each is imported when a graph is first compiled for it: the numba backend imports numba, which
takes longer than the rest of graphc put together, and graph building never needs it.
"""
import importlib

from .compile import register_backend


def _imported(module, name):
    def make_backend():
        return getattr(importlib.import_module(module), name)()

    return make_backend


register_backend("numpy", _imported("graphc.backends.numpy_backend", "NumpyBackend"))
register_backend("numba", _imported("graphc.backends.numba_backend.backend", "NumbaBackend"))
