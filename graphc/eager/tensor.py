"""The eager Tensor: an ndarray plus PyTorch's autograd state.

Every op on tensors goes through the shared registry (`graphc.ir.dispatch.apply`, see
`eager.apply`); this class holds the data, the autograd bookkeeping (grad, grad_fn, hooks,
version counter, view base) and the conversions. Op-calling methods live in methods.py.
"""
import weakref

import numpy as np

from graphc.ir.operators import OperatorMixin

from .grad_mode import is_grad_enabled
from .methods import TorchMethods
from .tape import AccumulateGrad, RemovableHandle, VersionCounter

def check_can_require_grad(dtype):
    if np.dtype(dtype).kind not in "fc":
        raise RuntimeError(
            f"only Tensors of floating point and complex dtype can require gradients (got {np.dtype(dtype)})"
        )


class Tensor(TorchMethods, OperatorMixin):
    """A multi-dimensional array that records the ops applied to it when it requires grad."""

    __slots__ = ("_data", "_version", "_base", "_view_parent", "_view_fn", "_requires_grad",
                 "_grad_fn", "_output_nr", "_grad", "_accumulator", "_saved", "_retains_grad", "_leaf_hooks",
                 "__weakref__")
    __hash__ = object.__hash__  # __eq__ is elementwise, but tensors still key dicts by identity

    def __init__(self, data, requires_grad=False):
        if isinstance(data, Tensor):
            data = data._data
        array = np.array(data)
        if array.dtype == object:
            raise TypeError(f"Tensor: cannot make a tensor of {type(data).__name__} values")
        self._init(array)
        self.requires_grad = requires_grad

    def _init(self, array):
        self._data = array
        self._version = VersionCounter()
        self._base = None
        self._view_parent = None
        self._view_fn = None
        self._requires_grad = False
        self._grad_fn = None
        self._output_nr = 0
        self._grad = None
        self._accumulator = None
        self._saved = None
        self._retains_grad = False
        self._leaf_hooks = {}

    @classmethod
    def _make(cls, array):
        """Wrap an ndarray without copying (internal fast path)."""
        t = object.__new__(cls)
        t._init(array)
        return t

    @classmethod
    def _saved_alias(cls, saved, edge):
        """What a gradient rule sees of a saved tensor: same data and autograd identity, checked reads."""
        t = cls._make(saved.data)
        t._version = saved.counter
        t._saved = saved
        if edge is not None:
            node, nr = edge
            if isinstance(node, AccumulateGrad):
                t._accumulator = weakref.ref(node)
                t._requires_grad = True
            else:
                t._grad_fn, t._output_nr = node, nr
        return t

    def _read(self, shape_only=False):
        """The ndarray an op computes on; a saved value is checked for in-place changes first."""
        if self._saved is not None and not shape_only:
            self._saved.check()
        return self._data

    def _graphc_array(self):
        return self._data

    # ---- autograd state ------------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._grad_fn is not None or self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if self._grad_fn is not None:
            if not flag:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a "
                    "computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return
        if flag:
            check_can_require_grad(self.dtype)
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got {type(value).__name__}")
            if value.shape != self.shape:
                raise RuntimeError(f"assigned grad has shape {value.shape} but the tensor has shape {self.shape}")
        self._grad = value

    def _grad_edge(self):
        """Where gradients for this tensor go: its grad_fn, or its leaf accumulator."""
        if self._grad_fn is not None:
            return (self._grad_fn, self._output_nr)
        if self._requires_grad:
            node = None if self._accumulator is None else self._accumulator()
            if node is None:
                node = AccumulateGrad(self)
                self._accumulator = weakref.ref(node)  # the graph keeps it alive, not the leaf
            return (node, 0)
        return None

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        from .engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call hook(grad) when this tensor's gradient is computed; it may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.is_leaf:
            key = object()
            self._leaf_hooks.setdefault(0, {})[key] = hook
            return RemovableHandle(self._leaf_hooks[0], key)
        return self._grad_fn.register_prehook(self._output_nr, hook)

    def retain_grad(self):
        """Keep `.grad` of a non-leaf tensor after backward (leaves keep theirs anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.is_leaf or self._retains_grad:
            return
        ref = weakref.ref(self)

        def keep(grad):
            t = ref()
            if t is not None:
                g = Tensor._make(np.array(grad._data, copy=True)) if not grad.requires_grad else grad
                t._grad = g if t._grad is None else t._grad + g
            return None

        self._retains_grad = True
        self.register_hook(keep)

    @property
    def retains_grad(self):
        return self._retains_grad

    def detach(self):
        """The same data (shared memory and version counter), cut from the graph."""
        t = Tensor._make(self._data)
        t._version = self._version
        return t

    def detach_(self):
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        """The values without autograd: changes through it are invisible to the version check."""
        return Tensor._make(self._data)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    # ---- shape and conversion ------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def device(self):
        return "cpu"

    def size(self, dim=None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._data.shape[0]):
            yield self[i]

    def numpy(self, *, force=False):
        """The underlying array itself (shared memory). As in PyTorch (tensor_numpy.cpp), a tensor
        that requires grad is refused only while grad mode is on; force=True skips the check."""
        if not force and self.requires_grad and is_grad_enabled():
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None and np.dtype(dtype) != array.dtype:
            return array.astype(dtype)
        return np.array(array, copy=True) if copy else array

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self._data.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __format__(self, spec):
        if self._data.ndim == 0 or (spec and self._data.size == 1):
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self):
        from .printing import tensor_repr

        return tensor_repr(self)
