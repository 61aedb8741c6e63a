"""Convolution and pooling over N spatial dimensions, in PyTorch's layouts and meanings: inputs
(batch, channels, *spatial), convolution weights (out_channels, in_channels / groups, *kernel).

A convolution is one op for any number of spatial dimensions (conv1d and conv2d are the same
op on 1 or 2 of them). It is bilinear, and so are its two gradients (with respect to the input
and to the weight); each of the three is an op whose VJP and JVP are the other two, so gradients
of any order stay within these three ops. Max pooling has a gradient op (routing each window's
cotangent to the window's first maximum) and its adjoint (reading each window's first maximum
position of another array); both are linear in the array they move. Average pooling (padding
counted, as PyTorch's count_include_pad=True) and its gradient are linear and adjoint.
"""
import math

import numpy as np

from ..dispatch import apply
from ..errors import ShapeError
from ..registry import Op, register
from ..types import fmt_shape, shapes_agree
from . import elementwise as ew
from . import shape as shp


# ---- attributes ------------------------------------------------------------------------------
def _label(op_family, spatial):
    return f"{op_family}{spatial}d"


def _ints(value, spatial, what, label, minimum):
    """An int, or a sequence of `spatial` ints, as a tuple of `spatial` ints >= minimum."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * spatial
    if len(values) != spatial or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                         for v in values):
        raise TypeError(f"{label}: {what} must be an int or {spatial} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{label}: {what} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in values)


def _conv_padding(padding, spatial, kernel, dilation, stride, label):
    """Padding as one (before, after) pair per spatial dimension. Users give an int, one int per
    dimension, or 'valid'/'same' as PyTorch; a normalized pair per dimension passes through."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * spatial
        if padding != "same":
            raise ValueError(f"{label}: padding must be an int, {spatial} ints, 'valid' or 'same', got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{label}: padding='same' is not supported for strided convolutions (stride {stride})")
        if None in kernel:
            raise ShapeError(f"{label}: padding='same' needs the kernel size at build time; the weight's "
                             f"kernel dimensions are {fmt_shape(kernel)}")
        # PyTorch puts the odd element of the total on the far side
        totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
        return tuple((t // 2, t - t // 2) for t in totals)
    entries = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * spatial
    if len(entries) != spatial:
        raise TypeError(f"{label}: padding must be an int or {spatial} ints, got {padding!r}")
    pairs = []
    for entry in entries:
        pair = tuple(entry) if isinstance(entry, (tuple, list)) else (entry, entry)
        if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
            raise TypeError(f"{label}: padding must be an int or {spatial} ints, got {padding!r}")
        if min(pair) < 0:
            raise ValueError(f"{label}: padding must be >= 0, got {padding!r}")
        pairs.append((int(pair[0]), int(pair[1])))
    return tuple(pairs)


def _check_float(label, *types):
    for t in types:
        if np.dtype(t.dtype).kind != "f":
            raise TypeError(f"{label}: expected floating-point inputs, got dtype {t.dtype}")


def _result_dtype(*types):
    return np.result_type(*[np.dtype(t.dtype) for t in types])


def _out_size(size, before, after, kernel, stride, dilation):
    """A window count along one dimension, or None where a size is known only at run time; a
    negative count where the (dilated) kernel is larger than the padded input."""
    if size is None or kernel is None:
        return None
    return (size + before + after - dilation * (kernel - 1) - 1) // stride + 1


def at_run_time(check, *args):
    """A build-time check run again on the real shapes: a mismatch found only now is a
    ValueError (the backends add the node and the user's line to it)."""
    try:
        return check(*args)
    except ShapeError as err:
        raise ValueError(f"{err}, at run time") from None


def _check_rank(label, spatial, what, shape, layout):
    if len(shape) != spatial + 2:
        raise ShapeError(f"{label}: expected the {what} as {layout} ({spatial + 2}-D), got shape {fmt_shape(shape)}")


# ---- convolution -----------------------------------------------------------------------------
def conv_output_shape(x_shape, w_shape, attrs):
    """The result shape of conv(x, w) (None where not known), checking the operands agree; used at
    build time (sizes may be None) and again at run time on the real shapes."""
    spatial, groups = attrs["spatial"], attrs["groups"]
    label = _label("conv", spatial)
    _check_rank(label, spatial, "input", x_shape, "(N, C, *spatial)")
    _check_rank(label, spatial, "weight", w_shape, "(out_channels, in_channels / groups, *kernel)")
    shapes = f"input {fmt_shape(x_shape)} and weight {fmt_shape(w_shape)}"
    channels, out_channels, per_group = x_shape[1], w_shape[0], w_shape[1]
    if channels is not None and channels % groups:
        raise ShapeError(f"{label}: the input's {channels} channels are not divisible by groups={groups} ({shapes})")
    if out_channels is not None and out_channels % groups:
        raise ShapeError(f"{label}: the weight's {out_channels} output channels are not divisible by "
                         f"groups={groups} ({shapes})")
    if channels is not None and per_group is not None and per_group * groups != channels:
        raise ShapeError(f"{label}: the weight expects {per_group * groups} input channels ({per_group} per group, "
                         f"groups={groups}) but the input has {channels} ({shapes})")
    out = []
    for i in range(spatial):
        (before, after), size, k = attrs["padding"][i], x_shape[2 + i], w_shape[2 + i]
        n = _out_size(size, before, after, k, attrs["stride"][i], attrs["dilation"][i])
        if n is not None and n < 1:
            raise ShapeError(
                f"{label}: the kernel ({k}, dilation {attrs['dilation'][i]}) is larger than the padded input "
                f"({size} + padding {before + after}) along spatial dimension {i} ({shapes})")
        out.append(n)
    return (x_shape[0], out_channels) + tuple(out)


class _Conv(Op):
    """Shared by the convolution and its two gradients: the attributes and their normalization."""

    accepts_out = True  # the numba backend's kernels write into workspace buffers

    def normalize(self, inputs, attrs):
        spatial = int(attrs["spatial"])
        label = _label("conv", spatial)
        groups = attrs.get("groups", 1)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"{label}: groups must be a positive int, got {groups!r}")
        stride = _ints(attrs.get("stride", 1), spatial, "stride", label, 1)
        dilation = _ints(attrs.get("dilation", 1), spatial, "dilation", label, 1)
        kernel = self.weight_shape(inputs)[2:] if len(self.weight_shape(inputs)) == spatial + 2 else (None,) * spatial
        padding = _conv_padding(attrs.get("padding", 0), spatial, kernel, dilation, stride, label)
        return {"spatial": spatial, "stride": stride, "padding": padding, "dilation": dilation, "groups": int(groups)}

    def dim_links(self, node):
        return self.links(node), ()


@register
class CONV(_Conv):
    """conv(x, w): x (N, C, *spatial), w (O, C / groups, *kernel) -> (N, O, *windows); cross-
    correlation, as PyTorch's conv1d/conv2d (no bias: add it)."""

    name, backward_name = "conv", "Convolution"

    def weight_shape(self, inputs):
        return inputs[1].shape

    def infer(self, inputs, attrs):
        x, w = inputs
        shape = conv_output_shape(x.shape, w.shape, attrs)
        _check_float(_label("conv", attrs["spatial"]), x, w)
        return shape, _result_dtype(x, w)

    def links(self, node):
        return [(0, 0), (1, 0)] + [None] * node.attrs["spatial"]

    def impl(self, x, w, **attrs):
        at_run_time(conv_output_shape, x.shape, w.shape, attrs)
        return conv_reference(x, w, **attrs)

    def vjp(self, g, out, x, w, **attrs):
        return (lambda: conv_input_grad(g, w, x, **attrs), lambda: conv_weight_grad(x, g, w, **attrs))

    def jvp(self, tangents, out, x, w, **attrs):
        tx, tw = tangents
        return ew._plus(None if tx is None else conv(tx, w, **attrs), None if tw is None else conv(x, tw, **attrs))


def _check_cotangent(label, g_shape, want, role):
    if not shapes_agree(tuple(g_shape), tuple(want)):
        raise ShapeError(f"{label}: the output cotangent has shape {fmt_shape(g_shape)}, but {role} gives "
                         f"outputs of shape {fmt_shape(want)}")


def _check_conv_cotangent(label, g_shape, x_shape, w_shape, attrs):
    _check_cotangent(label, g_shape, conv_output_shape(x_shape, w_shape, attrs),
                     f"input {fmt_shape(x_shape)} with weight {fmt_shape(w_shape)}")


@register
class CONV_INPUT_GRAD(_Conv):
    """The gradient of conv(x, w) with respect to x: conv_input_grad(g, w, x), x read only for its
    shape (a transposed convolution of g)."""

    name = "conv_input_grad"
    nondiff_inputs = shape_inputs = (2,)

    def weight_shape(self, inputs):
        return inputs[1].shape

    def infer(self, inputs, attrs):
        g, w, x = inputs
        label = _label("conv", attrs["spatial"])
        _check_conv_cotangent(label, g.shape, x.shape, w.shape, attrs)
        _check_float(label, g, w)
        return x.shape, _result_dtype(g, w)

    def links(self, node):
        return [(2, d) for d in range(node.ndim)]

    def impl(self, g, w, x, **attrs):
        label = _label("conv", attrs["spatial"])
        at_run_time(_check_conv_cotangent, label, g.shape, x.shape, w.shape, attrs)
        return conv_input_grad_reference(g, w, x.shape, **attrs)

    def vjp(self, h, out, g, w, x, **attrs):
        return (lambda: conv(h, w, **attrs), lambda: conv_weight_grad(h, g, w, **attrs), None)

    def jvp(self, tangents, out, g, w, x, **attrs):
        tg, tw = tangents[:2]
        return ew._plus(None if tg is None else conv_input_grad(tg, w, x, **attrs),
                        None if tw is None else conv_input_grad(g, tw, x, **attrs))


@register
class CONV_WEIGHT_GRAD(_Conv):
    """The gradient of conv(x, w) with respect to w: conv_weight_grad(x, g, w), w read only for
    its shape."""

    name = "conv_weight_grad"
    nondiff_inputs = shape_inputs = (2,)

    def weight_shape(self, inputs):
        return inputs[2].shape

    def infer(self, inputs, attrs):
        x, g, w = inputs
        label = _label("conv", attrs["spatial"])
        _check_conv_cotangent(label, g.shape, x.shape, w.shape, attrs)
        _check_float(label, x, g)
        return w.shape, _result_dtype(x, g)

    def links(self, node):
        return [(2, d) for d in range(node.ndim)]

    def impl(self, x, g, w, **attrs):
        label = _label("conv", attrs["spatial"])
        at_run_time(_check_conv_cotangent, label, g.shape, x.shape, w.shape, attrs)
        return conv_weight_grad_reference(x, g, w.shape, **attrs)

    def vjp(self, h, out, x, g, w, **attrs):
        return (lambda: conv_input_grad(g, h, x, **attrs), lambda: conv(x, h, **attrs), None)

    def jvp(self, tangents, out, x, g, w, **attrs):
        tx, tg = tangents[:2]
        return ew._plus(None if tx is None else conv_weight_grad(tx, g, w, **attrs),
                        None if tg is None else conv_weight_grad(x, tg, w, **attrs))


def conv(x, w, **attrs):
    return apply(CONV, x, w, **attrs)


def conv_input_grad(g, w, x, **attrs):
    return apply(CONV_INPUT_GRAD, g, w, x, **attrs)


def conv_weight_grad(x, g, w, **attrs):
    return apply(CONV_WEIGHT_GRAD, x, g, w, **attrs)


def _ndim(value):
    return value.ndim if hasattr(value, "ndim") else np.ndim(value)


def _unbatched(fn, x, *args, **attrs):
    """PyTorch also takes one unbatched sample (C, *spatial): run it as a batch of one."""
    if _ndim(x) == attrs["spatial"] + 1:
        return shp.squeeze(fn(shp.expand_dims(x, 0), *args, **attrs), 0)
    return fn(x, *args, **attrs)


def conv1d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's conv1d without bias: x (N, C, L) or (C, L), w (O, C / groups, K)."""
    return _unbatched(conv, x, w, spatial=1, stride=stride, padding=padding, dilation=dilation, groups=groups)


def conv2d(x, w, stride=1, padding=0, dilation=1, groups=1):
    """PyTorch's conv2d without bias: x (N, C, H, W) or (C, H, W), w (O, C / groups, KH, KW)."""
    return _unbatched(conv, x, w, spatial=2, stride=stride, padding=padding, dilation=dilation, groups=groups)


# ---- NumPy reference implementations ---------------------------------------------------------
def _padded(x, padding, value=0.0):
    if not any(before or after for before, after in padding):
        return x
    return np.pad(x, ((0, 0), (0, 0)) + tuple(padding), constant_values=value)


def _windows(xp, out, kernel, stride, dilation):
    """A read-only view (N, C, *out, *kernel) of every window of the padded input xp."""
    spatial = len(kernel)
    strides = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp, xp.shape[:2] + tuple(out) + tuple(kernel),
        strides[:2] + tuple(strides[2 + i] * stride[i] for i in range(spatial))
        + tuple(strides[2 + i] * dilation[i] for i in range(spatial)),
        writeable=False,
    )


def _conv_windows(x, w_shape, spatial, stride, padding, dilation, groups):
    """The windows view of x split by group: (N, G, C / G, *out, *kernel), and `out`."""
    out = conv_output_shape(x.shape, w_shape, dict(spatial=spatial, stride=stride, padding=padding,
                                                    dilation=dilation, groups=groups))[2:]
    win = _windows(_padded(x, padding), out, w_shape[2:], stride, dilation)
    return win.reshape((x.shape[0], groups, x.shape[1] // groups) + win.shape[2:]), out


def conv_reference(x, w, *, spatial, stride, padding, dilation, groups):
    dtype = np.result_type(x, w)
    win, out = _conv_windows(x, w.shape, spatial, stride, padding, dilation, groups)
    wg = w.reshape((groups, w.shape[0] // groups) + w.shape[1:])
    contracted = [1] + list(range(2 + spatial, 2 + 2 * spatial))  # channels and kernel offsets
    parts = [np.tensordot(win[:, g], wg[g], axes=(contracted, [1] + list(range(2, 2 + spatial))))
             for g in range(groups)]  # each (N, *out, O / G)
    result = np.concatenate(parts, axis=-1) if groups > 1 else parts[0]
    return np.ascontiguousarray(np.moveaxis(result, -1, 1), dtype=dtype)


def _offset_slices(offset, out, stride, dilation):
    """Where kernel offset `offset` reads the padded input, for every window."""
    return tuple(slice(k * d, k * d + s * (n - 1) + 1, s) for k, n, s, d in zip(offset, out, stride, dilation))


def conv_input_grad_reference(g, w, x_shape, *, spatial, stride, padding, dilation, groups):
    dtype = np.result_type(g, w)
    batch, channels = x_shape[:2]
    out, kernel = g.shape[2:], w.shape[2:]
    per_group, per_group_out = channels // groups, w.shape[0] // groups
    padded = tuple(n + before + after for n, (before, after) in zip(x_shape[2:], padding))
    dxp = np.zeros((batch, channels) + padded, dtype)
    for grp in range(groups):
        gg = g[:, grp * per_group_out:(grp + 1) * per_group_out]
        wg = w[grp * per_group_out:(grp + 1) * per_group_out]
        cols = np.tensordot(gg, wg, axes=([1], [0]))  # (N, *out, C / G, *kernel)
        cols = np.moveaxis(cols, 1 + spatial, 1)  # (N, C / G, *out, *kernel)
        for offset in np.ndindex(*kernel):
            target = (slice(None), slice(grp * per_group, (grp + 1) * per_group))
            dxp[target + _offset_slices(offset, out, stride, dilation)] += cols[(Ellipsis,) + offset]
    crop = tuple(slice(before, before + n) for n, (before, _) in zip(x_shape[2:], padding))
    return np.ascontiguousarray(dxp[(slice(None), slice(None)) + crop])


def conv_weight_grad_reference(x, g, w_shape, *, spatial, stride, padding, dilation, groups):
    dtype = np.result_type(x, g)
    win, out = _conv_windows(x, w_shape, spatial, stride, padding, dilation, groups)
    per_group_out = w_shape[0] // groups
    summed = [0] + list(range(2, 2 + spatial))  # batch and windows
    parts = [np.tensordot(g[:, grp * per_group_out:(grp + 1) * per_group_out], win[:, grp],
                          axes=(summed, summed)) for grp in range(groups)]  # each (O / G, C / G, *kernel)
    return np.ascontiguousarray(np.concatenate(parts, axis=0), dtype=dtype)


# ---- pooling -----------------------------------------------------------------------------------
def pool_output_shape(x_shape, attrs, family):
    spatial = attrs["spatial"]
    label = _label(family, spatial)
    _check_rank(label, spatial, "input", x_shape, "(N, C, *spatial)")
    out = []
    for i in range(spatial):
        k, p, size = attrs["kernel_size"][i], attrs["padding"][i], x_shape[2 + i]
        n = _out_size(size, p, p, k, attrs["stride"][i], 1)
        if n is not None and n < 1:
            raise ShapeError(f"{label}: the kernel ({k}) is larger than the padded input ({size} + padding {2 * p}) "
                             f"along spatial dimension {i} (input {fmt_shape(x_shape)})")
        out.append(n)
    return tuple(x_shape[:2]) + tuple(out)


class _Pool(Op):
    family = None
    accepts_out = True

    def normalize(self, inputs, attrs):
        spatial = int(attrs["spatial"])
        label = _label(self.family, spatial)
        kernel = _ints(attrs["kernel_size"], spatial, "kernel_size", label, 1)
        stride = attrs.get("stride")
        stride = kernel if stride is None else _ints(stride, spatial, "stride", label, 1)
        padding = _ints(attrs.get("padding", 0), spatial, "padding", label, 0)
        if any(p > k // 2 for p, k in zip(padding, kernel)):
            raise ValueError(f"{label}: padding {padding} must be at most half the kernel size {kernel}")
        return {"spatial": spatial, "kernel_size": kernel, "stride": stride, "padding": padding}

    def pooled_shape(self, x_shape, attrs):
        return pool_output_shape(x_shape, attrs, self.family)


class _PoolOfInput(_Pool):
    """Ops from the input's shape to the pooled shape (the pool, max pool's select)."""

    def infer(self, inputs, attrs):
        for t in inputs:
            if not shapes_agree(tuple(t.shape), tuple(inputs[0].shape)):
                raise ShapeError(f"{_label(self.family, attrs['spatial'])}: the arrays' shapes "
                                 f"{' and '.join(fmt_shape(v.shape) for v in inputs)} differ")
        _check_float(_label(self.family, attrs["spatial"]), *inputs)
        return self.pooled_shape(inputs[0].shape, attrs), _result_dtype(*inputs[self.value_inputs])

    def dim_links(self, node):
        equal = [((0, d), (k, d)) for k in range(1, len(node.inputs)) for d in range(node.ndim)]
        return [(0, 0), (0, 1)] + [None] * node.attrs["spatial"], equal


class _PoolGrad(_Pool):
    """Ops from the pooled shape back to the input's: (x, g) -> x's shape."""

    def infer(self, inputs, attrs):
        x, g = inputs[self.input_position], inputs[1 - self.input_position]
        _check_cotangent(_label(self.family, attrs["spatial"]), g.shape, self.pooled_shape(x.shape, attrs),
                         f"the input {fmt_shape(x.shape)}")
        _check_float(_label(self.family, attrs["spatial"]), x, g)
        return x.shape, np.dtype(g.dtype)

    def dim_links(self, node):
        return [(self.input_position, d) for d in range(node.ndim)], ()


def _max_positions(x, attrs):
    """For every window of x: the flat offset within the window of its first maximum (NaN counts
    as the largest; padding never wins, so an all -inf window picks its first real element, as
    PyTorch does), and the output size."""
    kernel, stride, padding = attrs["kernel_size"], attrs["stride"], attrs["padding"]
    pad = tuple((p, p) for p in padding)
    out = pool_output_shape(x.shape, attrs, "max_pool")[2:]
    ones = (1,) * len(kernel)
    win = _windows(_padded(x, pad, -np.inf), out, kernel, stride, ones)
    flat = win.reshape(win.shape[:2 + len(kernel)] + (math.prod(kernel),))  # not -1: a batch may be empty
    position = np.argmax(flat, axis=-1)
    if any(padding):
        real = _windows(_padded(np.ones((1, 1) + x.shape[2:], bool), pad, False), out, kernel, stride, ones)
        real = np.broadcast_to(real.reshape(real.shape[:2 + len(kernel)] + (math.prod(kernel),)), flat.shape)
        at_padding = ~np.take_along_axis(real, position[..., None], -1)[..., 0]
        position = np.where(at_padding, np.argmax(real, axis=-1), position)
    return position, out, flat


def _max_coordinates(position, out, attrs):
    """Coordinates in x of each window's chosen element, one index array per spatial dimension."""
    offsets = np.unravel_index(position, attrs["kernel_size"])
    coords = []
    for i, (offset, s, p) in enumerate(zip(offsets, attrs["stride"], attrs["padding"])):
        shape = [1] * position.ndim
        shape[2 + i] = out[i]
        coords.append(np.arange(out[i]).reshape(shape) * s + offset - p)
    return coords


def _window_read(h, position, out, attrs):
    batch, channels = np.indices(position.shape[:2], sparse=True)
    lead = (batch.reshape(batch.shape + (1,) * len(out)), channels.reshape(channels.shape + (1,) * len(out)))
    return h[lead + tuple(_max_coordinates(position, out, attrs))]


@register
class MAX_POOL(_PoolOfInput):
    name, family, backward_name = "max_pool", "max_pool", "MaxPool2DWithIndices"
    value_inputs = slice(0, 1)

    def impl(self, x, **attrs):
        at_run_time(self.infer, [x], attrs)
        position, out, flat = _max_positions(x, attrs)
        return np.ascontiguousarray(np.take_along_axis(flat, position[..., None], -1)[..., 0])

    def vjp(self, g, out, x, **attrs):
        return (lambda: max_pool_grad(x, g, **attrs),)

    def jvp(self, tangents, out, x, **attrs):
        return max_pool_select(x, tangents[0], **attrs)


@register
class MAX_POOL_SELECT(_PoolOfInput):
    """max_pool_select(x, h): for each window of x, h where x has its first maximum (the JVP of
    max pooling); x only chooses the positions."""

    name, family, linear = "max_pool_select", "max_pool", True
    nondiff_inputs = (0,)
    value_inputs = slice(1, 2)

    def impl(self, x, h, **attrs):
        at_run_time(self.infer, [x, h], attrs)
        position, out, _ = _max_positions(x, attrs)
        return np.ascontiguousarray(_window_read(h, position, out, attrs))

    def vjp(self, g, out, x, h, **attrs):
        return (None, lambda: max_pool_grad(x, g, **attrs))


@register
class MAX_POOL_GRAD(_PoolGrad):
    """max_pool_grad(x, g): each window's g added at the window's first maximum of x."""

    name, family, linear = "max_pool_grad", "max_pool", True
    nondiff_inputs = (0,)
    input_position = 0

    def impl(self, x, g, **attrs):
        at_run_time(self.infer, [x, g], attrs)
        position, out, _ = _max_positions(x, attrs)
        dx = np.zeros(x.shape, g.dtype)
        batch, channels = np.indices(position.shape, sparse=True)[:2]
        np.add.at(dx, (batch, channels) + tuple(_max_coordinates(position, out, attrs)), g)
        return dx

    def vjp(self, h, out, x, g, **attrs):
        return (None, lambda: max_pool_select(x, h, **attrs))


def _pool_windows_sum(x, attrs):
    pad = tuple((p, p) for p in attrs["padding"])
    out = pool_output_shape(x.shape, attrs, "avg_pool")[2:]
    win = _windows(_padded(x, pad), out, attrs["kernel_size"], attrs["stride"], (1,) * attrs["spatial"])
    return np.sum(win, axis=tuple(range(2 + attrs["spatial"], 2 + 2 * attrs["spatial"])))


@register
class AVG_POOL(_PoolOfInput):
    """Mean over each window, padding counted (PyTorch's count_include_pad=True)."""

    name, family, linear, backward_name = "avg_pool", "avg_pool", True, "AvgPool2D"
    value_inputs = slice(0, 1)

    def impl(self, x, **attrs):
        at_run_time(self.infer, [x], attrs)
        area = math.prod(attrs["kernel_size"])
        return np.ascontiguousarray(_pool_windows_sum(x, attrs) / np.asarray(area, x.dtype))

    def vjp(self, g, out, x, **attrs):
        return (lambda: avg_pool_grad(g, x, **attrs),)


@register
class AVG_POOL_GRAD(_PoolGrad):
    """avg_pool_grad(g, x): each window's g / area spread over the window (x read for its shape)."""

    name, family, linear = "avg_pool_grad", "avg_pool", True
    nondiff_inputs = shape_inputs = (1,)
    input_position = 1

    def impl(self, g, x, **attrs):
        at_run_time(self.infer, [g, x], attrs)
        spatial, kernel = attrs["spatial"], attrs["kernel_size"]
        padding, stride = attrs["padding"], attrs["stride"]
        share = g / np.asarray(math.prod(kernel), g.dtype)
        dxp = np.zeros(x.shape[:2] + tuple(n + 2 * p for n, p in zip(x.shape[2:], padding)), g.dtype)
        for offset in np.ndindex(*kernel):
            dxp[(slice(None), slice(None)) + _offset_slices(offset, g.shape[2:], stride, (1,) * spatial)] += share
        crop = tuple(slice(p, p + n) for n, p in zip(x.shape[2:], padding))
        return np.ascontiguousarray(dxp[(slice(None), slice(None)) + crop])

    def vjp(self, h, out, g, x, **attrs):
        return (lambda: avg_pool(h, **attrs), None)


def max_pool(x, **attrs):
    return apply(MAX_POOL, x, **attrs)


def max_pool_select(x, h, **attrs):
    return apply(MAX_POOL_SELECT, x, h, **attrs)


def max_pool_grad(x, g, **attrs):
    return apply(MAX_POOL_GRAD, x, g, **attrs)


def avg_pool(x, **attrs):
    return apply(AVG_POOL, x, **attrs)


def avg_pool_grad(g, x, **attrs):
    return apply(AVG_POOL_GRAD, g, x, **attrs)


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """PyTorch's max_pool2d: x (N, C, H, W) or (C, H, W); padding is -inf, at most half the kernel."""
    return _unbatched(max_pool, x, spatial=2, kernel_size=kernel_size, stride=stride, padding=padding)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """PyTorch's avg_pool2d (count_include_pad=True: padded zeros count in each window's mean)."""
    return _unbatched(avg_pool, x, spatial=2, kernel_size=kernel_size, stride=stride, padding=padding)
