"""Test domains of the convolution and pooling ops (ir/ops/conv.py), with references written as
plain loops over output positions (independent of the ops' strided-window implementations)."""
import numpy as np

import graphc as gc
from graphc.ir.ops import conv as cv
from op_domains import Case, add, distinct, each, normal

def _pairs(padding, spatial):
    padding = (padding,) * spatial if isinstance(padding, int) else padding
    return [(p, p) if isinstance(p, int) else p for p in padding]

def loop_conv(x, w, stride, padding, dilation, groups):
    """conv by its definition: out[n, o, p] = sum over c, k of x_padded[n, c, p * s + k * d] w[o, c, k]."""
    spatial = x.ndim - 2
    stride = (stride,) * spatial if isinstance(stride, int) else stride
    dilation = (dilation,) * spatial if isinstance(dilation, int) else dilation
    pads = _pairs(padding, spatial)
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + pads)
    kernel = w.shape[2:]
    out = [(xp.shape[2 + i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1 for i in range(spatial)]
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    result = np.zeros((x.shape[0], w.shape[0], *out))
    for n in range(x.shape[0]):
        for o in range(w.shape[0]):
            channels = slice((o // og) * cg, (o // og + 1) * cg)
            for p in np.ndindex(*out):
                window = tuple(slice(p[i] * stride[i], p[i] * stride[i] + dilation[i] * (kernel[i] - 1) + 1,
                                     dilation[i]) for i in range(spatial))
                result[(n, o) + p] = np.sum(xp[(n, channels) + window] * w[o])
    return result.astype(np.result_type(x, w))

def loop_conv_input_grad(g, w, x, stride, padding, dilation, groups):
    """The adjoint of x -> loop_conv(x, w): each output cotangent spread back over its window."""
    spatial = x.ndim - 2
    stride = (stride,) * spatial if isinstance(stride, int) else stride
    dilation = (dilation,) * spatial if isinstance(dilation, int) else dilation
    pads = _pairs(padding, spatial)
    kernel = w.shape[2:]
    dxp = np.zeros((x.shape[0], x.shape[1]) + tuple(x.shape[2 + i] + sum(pads[i]) for i in range(spatial)))
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    for n in range(g.shape[0]):
        for o in range(g.shape[1]):
            channels = slice((o // og) * cg, (o // og + 1) * cg)
            for p in np.ndindex(*g.shape[2:]):
                window = tuple(slice(p[i] * stride[i], p[i] * stride[i] + dilation[i] * (kernel[i] - 1) + 1,
                                     dilation[i]) for i in range(spatial))
                dxp[(n, channels) + window] += g[(n, o) + p] * w[o]
    crop = tuple(slice(pads[i][0], pads[i][0] + x.shape[2 + i]) for i in range(spatial))
    return dxp[(slice(None), slice(None)) + crop].astype(np.result_type(g, w))

def loop_conv_weight_grad(x, g, w, stride, padding, dilation, groups):
    """sum over batch and windows of g[n, o, p] * window(x)[n, c, p, k]."""
    spatial = x.ndim - 2
    stride = (stride,) * spatial if isinstance(stride, int) else stride
    dilation = (dilation,) * spatial if isinstance(dilation, int) else dilation
    xp = np.pad(x.astype(np.float64), [(0, 0), (0, 0)] + _pairs(padding, spatial))
    kernel = w.shape[2:]
    dw = np.zeros(w.shape)
    cg, og = x.shape[1] // groups, w.shape[0] // groups
    for n in range(g.shape[0]):
        for o in range(g.shape[1]):
            channels = slice((o // og) * cg, (o // og + 1) * cg)
            for p in np.ndindex(*g.shape[2:]):
                window = tuple(slice(p[i] * stride[i], p[i] * stride[i] + dilation[i] * (kernel[i] - 1) + 1,
                                     dilation[i]) for i in range(spatial))
                dw[o] += g[(n, o) + p] * xp[(n, channels) + window]
    return dw.astype(np.result_type(x, g))

def _pool_windows(x, kernel, stride, padding):
    """(window index, x's coordinates of its real elements) for every window of a 2-D pool."""
    stride = kernel if stride is None else stride
    out = [(x.shape[2 + i] + 2 * padding[i] - kernel[i]) // stride[i] + 1 for i in range(2)]
    for p in np.ndindex(*out):
        rows = [r for r in range(p[0] * stride[0] - padding[0], p[0] * stride[0] - padding[0] + kernel[0])
                if 0 <= r < x.shape[2]]
        cols = [c for c in range(p[1] * stride[1] - padding[1], p[1] * stride[1] - padding[1] + kernel[1])
                if 0 <= c < x.shape[3]]
        yield p, out, [(r, c) for r in rows for c in cols]

def loop_max_positions(x, kernel, stride, padding):
    """{(n, c, window): (row, col) of the window's first maximum}."""
    chosen = {}
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for p, out, cells in _pool_windows(x, kernel, stride, padding):
                values = [x[n, c, r, q] for r, q in cells]
                chosen[(n, c) + p] = cells[int(np.argmax(values))]
    return chosen, out

def loop_max_pool(x, kernel, stride, padding):
    chosen, out = loop_max_positions(x, kernel, stride, padding)
    result = np.zeros(x.shape[:2] + tuple(out), x.dtype)
    for key, (r, q) in chosen.items():
        result[key] = x[key[0], key[1], r, q]
    return result

def loop_max_pool_select(x, h, kernel, stride, padding):
    chosen, out = loop_max_positions(x, kernel, stride, padding)
    result = np.zeros(x.shape[:2] + tuple(out), h.dtype)
    for key, (r, q) in chosen.items():
        result[key] = h[key[0], key[1], r, q]
    return result

def loop_max_pool_grad(x, g, kernel, stride, padding):
    chosen, _ = loop_max_positions(x, kernel, stride, padding)
    dx = np.zeros(x.shape, g.dtype)
    for key, (r, q) in chosen.items():
        dx[key[0], key[1], r, q] += g[key]
    return dx

def loop_avg_pool(x, kernel, stride, padding):
    area = kernel[0] * kernel[1]
    result = None
    for p, out, cells in _pool_windows(x, kernel, stride, padding):
        if result is None:
            result = np.zeros(x.shape[:2] + tuple(out))
        for r, q in cells:
            result[(slice(None), slice(None)) + p] += x[:, :, r, q]
    return (result / area).astype(x.dtype)

def loop_avg_pool_grad(g, x, kernel, stride, padding):
    dx = np.zeros(x.shape)
    for p, out, cells in _pool_windows(x, kernel, stride, padding):
        for r, q in cells:
            dx[:, :, r, q] += g[(slice(None), slice(None)) + p] / (kernel[0] * kernel[1])
    return dx.astype(g.dtype)

# ---- convolution ---------------------------------------------------------------------------------
_CONV2D = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
add(Case("conv", "conv2d_stride_pad_dilation_groups", lambda x, w: gc.conv2d(x, w, **_CONV2D),
         [(2, 4, 5, 5), (4, 2, 3, 2)], lambda x, w: loop_conv(x, w, **_CONV2D)))
_CONV1D = dict(stride=2, padding=1, dilation=1, groups=1)
add(Case("conv", "conv1d_stride_pad", lambda x, w: gc.conv1d(x, w, **_CONV1D), [(2, 3, 7), (2, 3, 3)],
         lambda x, w: loop_conv(x, w, **_CONV1D)))
add(Case("conv", "conv2d_same_bias_relu",
         lambda x, w, b: gc.relu(gc.conv2d(x, w, padding="same") + b.reshape(1, -1, 1, 1)),
         [(1, 2, 4, 4), (3, 2, 2, 2), (3,)],
         lambda x, w, b: np.maximum(loop_conv(x, w, 1, ((0, 1), (0, 1)), 1, 1) + b.reshape(1, -1, 1, 1), 0),
         dynamic=False, second_order=False))

# the gradients, directly (the battery's gradient tests reach them through conv too)
_GRAD = dict(stride=(1, 2), padding=(0, 1), dilation=(2, 1), groups=2)
_GRAD_ATTRS = dict(spatial=2, **_GRAD)
add(Case("conv_input_grad", "stride_pad_dilation_groups",
         lambda g, w, x: cv.conv_input_grad(g, w, x, **_GRAD_ATTRS), [(2, 4, 2, 3), (4, 1, 2, 2), (2, 2, 4, 5)],
         lambda g, w, x: loop_conv_input_grad(g, w, x, **_GRAD), diff=(0, 1)))
add(Case("conv_weight_grad", "stride_pad_dilation_groups",
         lambda x, g, w: cv.conv_weight_grad(x, g, w, **_GRAD_ATTRS), [(2, 2, 4, 5), (2, 4, 2, 3), (4, 1, 2, 2)],
         lambda x, g, w: loop_conv_weight_grad(x, g, w, **_GRAD), diff=(0, 1)))

# ---- pooling -------------------------------------------------------------------------------------
for _name, _kernel, _stride, _padding, _shape in [("k2", (2, 2), None, (0, 0), (2, 2, 4, 6)),
                                                  ("k3_s2_pad1", (3, 3), (2, 2), (1, 1), (1, 2, 5, 6))]:
    _pool = dict(kernel_size=_kernel, stride=_stride, padding=_padding)
    _ref = (_kernel, _stride, _padding)
    add(Case("max_pool", _name, (lambda kw: lambda x: gc.max_pool2d(x, **kw))(_pool), [_shape],
             (lambda a: lambda x: loop_max_pool(x, *a))(_ref), gen=each(distinct())))
    add(Case("avg_pool", _name, (lambda kw: lambda x: gc.avg_pool2d(x, **kw))(_pool), [_shape],
             (lambda a: lambda x: loop_avg_pool(x, *a))(_ref)))

_OVERLAP = dict(spatial=2, kernel_size=(3, 2), stride=(1, 2), padding=(1, 1))
_OVERLAP_REF = ((3, 2), (1, 2), (1, 1))
add(Case("max_pool_grad", "overlapping_windows", lambda x, g: cv.max_pool_grad(x, g, **_OVERLAP),
         [(1, 2, 4, 5), (1, 2, 4, 3)], lambda x, g: loop_max_pool_grad(x, g, *_OVERLAP_REF),
         gen=each(distinct(), normal), diff=(1,)))
add(Case("max_pool_select", "overlapping_windows", lambda x, h: cv.max_pool_select(x, h, **_OVERLAP),
         [(1, 2, 4, 5), (1, 2, 4, 5)], lambda x, h: loop_max_pool_select(x, h, *_OVERLAP_REF),
         gen=each(distinct(), normal), diff=(1,)))
add(Case("avg_pool_grad", "overlapping_windows", lambda g, x: cv.avg_pool_grad(g, x, **_OVERLAP),
         [(1, 2, 4, 3), (1, 2, 4, 5)], lambda g, x: loop_avg_pool_grad(g, x, *_OVERLAP_REF), diff=(0,)))
