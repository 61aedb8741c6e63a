"""The op registry. Each op is declared once, in ir/ops/, as a subclass of `Op`, and registered
as one instance (`TANH`, `SUM`, ...) that passes and backends compare by identity.

An op declares everything known about it, so nothing outside ir/ops/ keys on its name:
- facts, as class attributes: which inputs carry no gradient or are read only for their shape,
  whether its result may be a view of input 0 or can be written into a given buffer, whether it
  is elementwise (fusible), broadcasts, is linear or differentiable at all, which attributes hold
  body graphs, how a reduction combines partial results, and its eager `grad_fn` name;
- behaviour, as methods: attribute normalization, shape/dtype inference, the NumPy reference
  implementation, the derivative rules (written with other ops, so they serve graph autodiff,
  eager backward and higher-order gradients alike), the run-time sizes it ties together, and
  extra lines for the graph listing;
- for elementwise ops, a backend-neutral scalar expression that fusion inlines into loops.

Derivative rules are declared once: an elementwise op gives its partial derivatives (both VJP and
JVP follow), a linear op only its VJP, and an op no derivative passes through (`has_derivative`)
none.
"""
import numpy as np

OPS = {}


def register(cls):
    """Class decorator: instantiate the op once and enter it into OPS under its name."""
    op = cls()
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is declared twice")
    OPS[op.name] = op
    return op


def camel(name):
    return "".join(part.capitalize() for part in name.split("_"))


class Op:
    name = None
    # A gradient that can only reach an input through this op's output is an error, naming the op
    # (argmax, comparisons, casts to integers): users asked for loud failures over silent zeros.
    differentiable = True
    # Input positions that carry no gradient by meaning (a `where` condition, indices, a tensor
    # whose only role is to supply a run-time shape). They are simply not gradient paths.
    nondiff_inputs = ()
    # Input positions read only for their run-time shape (never their values). A rewrite may
    # swap such an input for any value of the same shape, so a forward value needed only for
    # its shape is not computed. Ask `is_shape_input(i)`: an op whose positions depend on its
    # number of inputs (concat_part) declares them by overriding that method instead.
    shape_inputs = ()
    # The NumPy result may be a view of input 0 (reshape, transpose, basic indexing, ...). Eager
    # mode then shares memory and the version counter with that input, as PyTorch's view ops do;
    # a backend keeps the buffer behind it alive as long as the view, and counts it as no work.
    returns_view = False
    # Broadcasting elementwise: fusible, and its input gradients are un-broadcast centrally.
    elementwise = False
    # Ops whose gradients may carry extra broadcast dimensions (elementwise, matmul batches).
    broadcasts = False
    # The op is linear in all its differentiable inputs: JVP is the op applied to the tangents.
    linear = False
    # Eager `grad_fn` name stem (PyTorch prints MulBackward0); defaults to CamelCase of name.
    backward_name = None
    # Attributes holding closed body graphs (a fused kernel's loop body, later loop and branch
    # bodies). Passes, the printer, DOT export and autodiff reach into bodies through
    # `subgraphs`/`with_subgraphs` alone, so a new op with a body needs no edits elsewhere.
    body_attrs = ()
    # A reduction a loop can compute in pieces: the binary elementwise op folding two partial
    # results (ADD for sum). Such reductions also declare `identity(dtype)` and
    # `divides_by_count` (ir/ops/reductions.py). None for every other op.
    combine = None
    # A backend may write the result into a buffer it provides (np.matmul's out=, a fused
    # kernel's output); it is never a view of an input, so the memory plan may reuse buffers.
    accepts_out = False
    # Not elementwise by NumPy's rules, but inside a loop over its output it is just its input
    # read with broadcasting (broadcast_like): fusing it saves materializing a stride-0 array.
    fuses_as_broadcast = False
    # The input position of the generator state (a uint64 call counter) of an op that draws
    # random values (ir/ops/random.py), None for every other op. Such an op gives new values on
    # every call: constant folding never folds it (and CSE never merges two draws, as each has
    # its own state), and gc.compile advances the state once per call. Ask `draws_random`.
    random_state_input = None
    # Ops only passes create (fused kernels, body parameters, tuple projections): no user
    # builds them, so the op battery tests them through the passes that make them.
    created_by_passes = False

    # ---- declared per op -------------------------------------------------------------------
    def normalize(self, inputs, attrs):
        """Validate and canonicalize attributes given the input types. Returns attrs."""
        return attrs

    def infer(self, inputs, attrs):
        """Return (shape, dtype) of the output; raise ShapeError/TypeError on bad inputs."""
        raise NotImplementedError(self.name)

    def impl(self, *args, **attrs):
        """NumPy reference implementation on ndarrays."""
        raise NotImplementedError(self.name)

    def vjp(self, g, out, *inputs, **attrs):
        """Cotangents of the inputs (None where there is none), built from ops."""
        if not self.has_derivative(len(inputs)):
            return (None,) * len(inputs)
        raise NotImplementedError(f"op {self.name} has no gradient rule")

    def jvp(self, tangents, out, *inputs, **attrs):
        """Tangent of the output given input tangents (None for a zero tangent)."""
        if not self.has_derivative(len(inputs)):
            return None
        if self.linear:
            from .ops.shape import zeros_like

            # is_nondiff_input, not nondiff_inputs: ops such as index_add declare theirs by method,
            # and zeroing their index input would scatter everything to position 0.
            filled = [
                t if t is not None else (x if self.is_nondiff_input(i) else zeros_like(x))
                for i, (t, x) in enumerate(zip(tangents, inputs))
            ]
            return self.function_for_jvp(*filled, **attrs)
        raise NotImplementedError(f"op {self.name} has no forward-mode (JVP) rule")

    def function_for_jvp(self, *inputs, **attrs):
        from .dispatch import apply

        return apply(self, *inputs, **attrs)

    # scalar expression for fusion: a format string over input names, e.g. "({0} * {1})". The
    # functions it calls have backend-neutral names ("tanh({0})"): each backend maps those names
    # to its own implementations ({zero} and {cast} stand for the node dtype's 0 and constructor).
    scalar = None
    # Integer results wrap modulo 2**bits on overflow, as NumPy's do (add, mul, ...). A backend
    # whose signed arithmetic treats overflow as undefined (numba's LLVM does) must compute these
    # ops on unsigned bits.
    integer_overflow_wraps = False

    def dim_links(self, node):
        """Which run-time sizes this op ties together, for checking feeds before a call.

        Returns (output, equal): output[d] is an (input position, axis) whose size the output's
        dimension d always has, or None; `equal` lists pairs of (input position, axis) whose
        sizes must agree for the op to run. Claiming nothing is always safe; a claim that is
        not a real requirement would reject valid feeds.
        """
        return (None,) * node.ndim, ()

    # Attributes that listing_notes shows below the node instead of inline.
    noted_attrs = ()

    def batches_along_new_axis(self, node, positions):
        """Whether applying this op to its inputs with a new leading axis (of the same length)
        at `positions`, the others as they are, gives its results for each index stacked along
        that axis: a loop then computes such per-step values for all steps at once."""
        return False

    def history_parts(self, attrs):
        """A loop's result positions holding the carries stored per step for its gradient, if
        it keeps them (a pass drops them where nothing reads them). Empty for other ops."""
        return range(0)

    def listing_notes(self, node, labels):
        """Extra lines shown under the node in a graph listing (why a kernel ends where it does)."""
        return []

    # ---- derived ---------------------------------------------------------------------------
    def subgraphs(self, attrs):
        """The body graphs in `attrs`, in body_attrs order."""
        return tuple(attrs[key] for key in self.body_attrs)

    def with_subgraphs(self, attrs, bodies):
        """`attrs` with its bodies replaced by `bodies` (same order as `subgraphs`)."""
        return {**attrs, **dict(zip(self.body_attrs, bodies))}

    def evaluate(self, args, attrs, observe=None):
        """The reference value; an op with bodies passes `observe` on to the interpreter that
        runs them, so nan_check sees every step inside."""
        return self.impl(*args, **attrs)

    def blocks_gradient(self, attrs):
        return not self.differentiable

    def has_derivative(self, arity):
        """Whether a derivative can pass through the op at all. None passes one that is not
        differentiable (argmax) or whose every input is a non-gradient input (stop_gradient,
        zeros_like): such an op needs no gradient rules of its own."""
        return self.differentiable and not all(self.is_nondiff_input(i) for i in range(arity))

    def unbroadcast_needed(self, index, inputs):
        """Could input `index`'s gradient (shaped like the output) be larger than the input?"""
        return self.broadcasts

    @property
    def draws_random(self):
        return self.random_state_input is not None

    def is_nondiff_input(self, index):
        return index in self.nondiff_inputs

    def is_shape_input(self, index):
        return index in self.shape_inputs

    @property
    def grad_fn_name(self):
        return (self.backward_name or camel(self.name)) + "Backward0"

    def __repr__(self):
        return f"<op {self.name}>"


def attrs_key(attrs):
    """A hashable, deterministic form of an attrs dict (for CSE and cache keys)."""
    def freeze(v):
        if isinstance(v, np.ndarray):
            return ("ndarray", v.dtype.str, v.shape, v.tobytes())
        if isinstance(v, (list, tuple)):
            return tuple(freeze(x) for x in v)
        if isinstance(v, dict):
            return tuple(sorted((k, freeze(x)) for k, x in v.items()))
        if isinstance(v, slice):
            return ("slice", v.start, v.stop, v.step)
        if isinstance(v, np.dtype):
            return ("dtype", v.str)
        return v

    return tuple(sorted((k, freeze(v)) for k, v in attrs.items()))
