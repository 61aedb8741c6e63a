"""The eager Tensor: an ndarray plus PyTorch's autograd state.

Every op on tensors goes through the shared registry (`graphc.ir.dispatch.apply`, see
`eager.apply`); this class holds the data, the autograd bookkeeping (grad, grad_fn, hooks,
version counter, view base) and the conversions. Only this class writes that state: the op
frontend, in-place updates, backward and custom Functions change it through the `_set_history`,
`_view`, `_snapshot`, `_assign`, ... methods below.

The modules that record ops build Tensors, so they import this one; the methods that call them
(`backward`, `add_`, indexing, ...) are therefore attached by methods.py, keeping the imports
one-way (no module here imports a module above it, and none needs a function-local import).
"""
import weakref

import numpy as np

from graphc.ir.operators import OperatorMixin

from .grad_mode import is_grad_enabled
from .printing import tensor_repr
from .tape import AccumulateGrad, RemovableHandle, VersionCounter

def check_can_require_grad(dtype):
    if np.dtype(dtype).kind not in "fc":
        raise RuntimeError(
            f"only Tensors of floating point and complex dtype can require gradients (got {np.dtype(dtype)})"
        )


class Tensor(OperatorMixin):
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

    # ---- changes of state, made for the op frontend, in-place updates, backward and Functions ----
    def _view(self, array, op, attrs, extras):
        """A tensor on `array`, a NumPy view of this one made by `op`: it shares the version counter
        (a write through either shows in both) and remembers how to remake itself from its parent."""
        t = Tensor._make(array)
        t._version = self._version
        t._base = self._base if self._base is not None else self
        t._view_parent = self
        t._view_fn = (op, attrs, extras)
        return t

    def _view_steps(self):
        """The views from this tensor up to its base, each as (view, parent, op, attrs, extras), and
        the base (self, with no steps, when this is not a view)."""
        steps, view = [], self
        while view._view_parent is not None:
            steps.append((view, view._view_parent, *view._view_fn))
            view = view._view_parent
        return steps, view

    def _snapshot(self):
        """A copy of the values with this tensor's autograd identity: what a rule reads of the value
        an in-place update is about to overwrite."""
        t = Tensor._make(np.array(self._data, copy=True))
        t._grad_fn, t._output_nr = self._grad_fn, self._output_nr
        t._requires_grad = self._requires_grad
        t._accumulator = self._accumulator
        return t

    def _set_history(self, grad_fn, output_nr=0):
        """Make this tensor output `output_nr` of the backward node `grad_fn`."""
        self._grad_fn, self._output_nr = grad_fn, output_nr

    def _replace_data(self, array):
        """Hold `array` (same values, another layout) instead; the node that made this tensor saves
        it again, since that node's rule may read its output."""
        self._data = array
        if self._grad_fn is not None:
            self._grad_fn.save_output(self)

    def _bump_version(self, op_name):
        self._version.bump(op_name)

    def _assign(self, new, op_name):
        """Write tensor `new`'s values into this tensor's memory (an in-place update)."""
        if not np.can_cast(new.dtype, self.dtype, casting="same_kind"):
            raise RuntimeError(f"{op_name}: result type {new.dtype} can't be cast to the desired output type {self.dtype}")
        if new.shape != self.shape:
            raise RuntimeError(f"{op_name}: output with shape {self.shape} doesn't match the broadcast shape {new.shape}")
        np.copyto(self._data, new._data, casting="same_kind")
        self._version.bump(op_name)

    def _store(self, key, values):
        """self[key] = values on the array itself (the caller has accounted for the version)."""
        self._data[key] = values

    def _accumulate_grad(self, grad, create_graph):
        """self.grad += grad, in place when nothing records it (PyTorch's AccumulateGrad)."""
        current = self._grad
        if current is None:
            self._grad = grad if create_graph else Tensor._make(np.array(grad._data, copy=True))
        elif create_graph or current.requires_grad:
            self._grad = current + grad
        else:
            np.add(current._data, grad._data, out=current._data, casting="same_kind")
            current._version.bump("accumulate_grad")

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
        return tensor_repr(self)
