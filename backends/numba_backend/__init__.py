"""The numba backend: fused kernels compiled with numba, cached on disk (see kernel_cache)."""
import os

from .cache_dir import numba_cache_fallback

# These modules define @njit(cache=True) functions, and numba raises at definition time when it
# finds no writable place to cache them: define them where numba_cache_fallback says.
with numba_cache_fallback(os.path.join(os.path.dirname(__file__), "vecmath.py")):
    from . import conv_kernels, nn_kernels, scalar_ops, vecmath  # noqa: F401
