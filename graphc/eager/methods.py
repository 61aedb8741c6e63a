"""Tensor methods with PyTorch's names and keyword spellings that are plain op calls (or in-place
updates built from op calls): `x.float()`, `x.sum(dim=1, keepdim=True)`, `x.view(-1, 8)`, `x.add_(y)`,
and `x.backward()`.

Kept apart from tensor.py, which holds the data and the autograd state. These methods call the
modules that build Tensors (apply, inplace, engine, creation), so tensor.py cannot import them:
they are attached to the class here instead (`install`), and every import stays one-way.
"""
import numpy as np

from graphc.ir import ops as F
from graphc.ir.ops.elementwise import CAST

from .apply import eager_apply
from .creation import ones, shape_args, zeros
from .engine import backward
from .inplace import copy_, inplace, plain_key, setitem
from .tensor import Tensor

# PyTorch's spellings of the casts; `float` means float32 there, and so here.
_CASTS = {"float": np.float32, "double": np.float64, "half": np.float16, "long": np.int64,
          "int": np.int32, "short": np.int16, "bool": np.bool_}


def _axis(axis, dim):
    return dim if axis is None else axis


def _keep(keepdims, keepdim):
    return bool(keepdim) if keepdim is not None else keepdims


class TorchMethods:
    """Attached to Tensor over OperatorMixin's methods, so `sum(dim=...)` takes PyTorch's forms."""

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def to(self, dtype):
        return self if np.dtype(dtype) == self.dtype else F.astype(self, dtype)

    def type(self, dtype):
        return self.to(dtype)

    def float(self):
        return self.to(_CASTS["float"])

    def double(self):
        return self.to(_CASTS["double"])

    def half(self):
        return self.to(_CASTS["half"])

    def long(self):
        return self.to(_CASTS["long"])

    def int(self):
        return self.to(_CASTS["int"])

    def short(self):
        return self.to(_CASTS["short"])

    def bool(self):
        return self.to(_CASTS["bool"])

    # ---- ops beyond the shared operators (PyTorch names, keyword spellings) --------------------
    def __getitem__(self, key):
        return F.getitem(self, plain_key(key))

    def __setitem__(self, key, value):
        setitem(self, key, value)

    def sum(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.sum(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.mean(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def max(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.max(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def min(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.min(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def argmax(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.argmax(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def logsumexp(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.logsumexp(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def view(self, *shape):
        """reshape that must share memory (PyTorch refuses to copy in view)."""
        out = F.reshape(self, shape_args(shape))
        if out._base is None and self.numel():
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (shape {self.shape} "
                f"-> {shape_args(shape)}); use .reshape(...) instead"
            )
        return out

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def flatten(self):
        return self.reshape(-1)

    def permute(self, *dims):
        return F.transpose(self, shape_args(dims))

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return F.transpose(self) if self.ndim == 2 else self

    def unsqueeze(self, dim):
        return F.expand_dims(self, dim)

    def expand(self, *sizes):
        sizes = shape_args(sizes)
        lead = len(sizes) - self.ndim
        target = tuple(s if s != -1 else self.shape[i - lead] for i, s in enumerate(sizes))
        return F.broadcast_to(self, target)

    def clone(self):
        """A copy that stays in the graph (gradients flow back to the source)."""
        return eager_apply(CAST, (self,), {"dtype": self.dtype}, grad_name="CloneBackward0")

    def contiguous(self):
        if self._graphc_array().flags.c_contiguous:
            return self
        out = self.clone()  # NumPy's copy keeps the strides' order; view() needs C order
        out._replace_data(np.ascontiguousarray(out._graphc_array()))
        return out

    def dot(self, other):
        if self.ndim != 1 or np.ndim(other) != 1:
            raise RuntimeError("1D tensors expected, but got other shapes for dot")
        return F.matmul(self, other)

    def matmul(self, other):
        return F.matmul(self, other)

    mm = matmul

    def norm(self):
        return F.sqrt(F.sum(F.square(self)))

    def pow(self, exponent):
        return F.pow(self, exponent)

    def abs(self):
        return F.abs(self)

    def neg(self):
        return F.neg(self)

    def square(self):
        return F.square(self)

    def sin(self):
        return F.sin(self)

    def cos(self):
        return F.cos(self)

    def log1p(self):
        return F.log1p(self)

    def expm1(self):
        return F.expm1(self)

    def sign(self):
        return F.sign(self)

    def clamp(self, min=None, max=None):
        return F.clip(self, min, max)

    clip = clamp

    def softmax(self, dim=-1):
        return F.softmax(self, dim)

    def log_softmax(self, dim=-1):
        return F.log_softmax(self, dim)

    def gather(self, dim, index):
        return F.gather(self, dim, index)

    def index_select(self, dim, index):
        return F.index_select(self, dim, index)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        return zeros(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        return ones(*size, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    # ---- in-place ------------------------------------------------------------------------------
    def add_(self, other, alpha=1):
        return inplace(self, lambda t: F.add(t, other if alpha == 1 else F.mul(other, alpha)), "add_")

    def sub_(self, other, alpha=1):
        return inplace(self, lambda t: F.sub(t, other if alpha == 1 else F.mul(other, alpha)), "sub_")

    def mul_(self, other):
        return inplace(self, lambda t: F.mul(t, other), "mul_")

    def div_(self, other):
        return inplace(self, lambda t: F.div(t, other), "div_")

    def pow_(self, exponent):
        return inplace(self, lambda t: F.pow(t, exponent), "pow_")

    def clamp_(self, min=None, max=None):
        return inplace(self, lambda t: F.clip(t, min, max), "clamp_")

    def copy_(self, src):
        return copy_(self, src)

    def fill_(self, value):
        return self.copy_(value)

    def zero_(self):
        return self.copy_(0)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- elementwise ops for models (erf, rounding, division, predicates, logic) ---------------
    def erf(self):
        return F.erf(self)

    def floor(self):
        return F.floor(self)

    def ceil(self):
        return F.ceil(self)

    def round(self):
        return F.round(self)

    def trunc(self):
        return F.trunc(self)

    def isnan(self):
        return F.isnan(self)

    def isinf(self):
        return F.isinf(self)

    def isfinite(self):
        return F.isfinite(self)

    def logical_and(self, other):
        return F.logical_and(self, other)

    def logical_or(self, other):
        return F.logical_or(self, other)

    def logical_not(self):
        return F.logical_not(self)

    def eq(self, other):
        return F.equal(self, other)

    def ne(self, other):
        return F.not_equal(self, other)

    def remainder(self, other):
        return F.remainder(self, other)

    def floor_divide(self, other):
        return F.floor_divide(self, other)

    # ---- reductions, scans and array ops (API.md section 10), PyTorch's spellings ----------------
    def prod(self, axis=None, keepdims=False, *, dim=None, keepdim=None):
        return F.prod(self, axis=_axis(axis, dim), keepdims=_keep(keepdims, keepdim))

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        """PyTorch's default: the unbiased variance (correction=1); gc.var's default is ddof=0."""
        ddof = correction if correction is not None else (0 if unbiased is False else 1)
        return F.var(self, dim, keepdim, ddof)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None):
        ddof = correction if correction is not None else (0 if unbiased is False else 1)
        return F.std(self, dim, keepdim, ddof)

    def any(self, dim=None, keepdim=False):
        return F.any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return F.all(self, dim, keepdim)

    def cumsum(self, dim):
        return F.cumsum(self, dim)

    def cumprod(self, dim):
        return F.cumprod(self, dim)

    def sort(self, dim=-1, descending=False):
        """(values, indices), as torch.sort (a plain tuple)."""
        indices = F.argsort(self, dim, descending)
        return F.gather(self, dim, indices), indices

    def argsort(self, dim=-1, descending=False):
        return F.argsort(self, dim, descending)

    def topk(self, k, dim=-1):
        return F.topk(self, k, dim)

    def flip(self, *dims):
        return F.flip(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def roll(self, shifts, dims=None):
        return F.roll(self, shifts, dims)

    def tril(self, diagonal=0):
        return F.tril(self, diagonal)

    def triu(self, diagonal=0):
        return F.triu(self, diagonal)

    def scatter_add(self, dim, index, src):
        return F.scatter_add(self, dim, index, src)


def install(cls, methods):
    """Put the methods on cls itself: they then take precedence over OperatorMixin's, as the
    mixin's place ahead of it in the bases would (`sum(dim=...)`). Only the
    functions move: the class's own bookkeeping (`__dict__`, and the `__hash__ = None` that
    defining `__eq__` implies) would make tensors unhashable."""
    for name, value in vars(methods).items():
        if callable(value):
            setattr(cls, name, value)


install(Tensor, TorchMethods)
