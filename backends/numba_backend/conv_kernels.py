"""numba kernels for convolution and pooling (ir/ops/conv.py), writing into workspace buffers.

Convolutions run image by image on BLAS gemms (CBLAS called from numba, no trip through Python):

- stride 1 with at least 4 input channels (SHIFT_FROM_CHANNELS): the image is copied once into a
  zero-padded buffer and each kernel tap is one gemm reading that buffer in place, shifted by the
  tap's offset; the result is computed on the padded width and cropped. The input gradient is
  the adjoint (each tap's transposed gemm added at its shift), the weight gradient one gemm per
  tap accumulated over images;
- otherwise im2col + gemm: the image's windows are copied into a (channels x kernel, windows)
  matrix that stays in cache and the gemm writes straight into that image's rows of the result,
  which in NCHW layout are the gemm's output matrix; the input gradient is the transposed gemm
  followed by col2im, the weight gradient a gemm accumulating over images;
- a 1x1 kernel with stride 1 and no padding multiplies the image as it is.

Measured against direct numba loops over a blocked layout on the benchmark's shapes
(bench/README.md): gemms were faster on every one.

Large batches are split between threads by images (the weight gradient sums one partial per
thread, in a fixed order), with OpenBLAS on one thread meanwhile; the split depends on shapes
alone. Pooling is one loop nest per op. 1-D convolutions run as 2-D ones of height 1. Anything
else (other dtypes, mixed dtypes, 3 spatial dims, no OpenBLAS) runs the op's NumPy code.
"""
import math

import numba
import numpy as np

from graphc.ir.ops.conv import (
    AVG_POOL, AVG_POOL_GRAD, CONV, CONV_INPUT_GRAD, CONV_WEIGHT_GRAD, MAX_POOL, MAX_POOL_GRAD, MAX_POOL_SELECT,
    at_run_time, conv_output_shape,
)

from . import blas
from .runner import _executor, _threads

_jit = numba.njit(cache=True, nogil=True, error_model="numpy")
_gemm_d = blas.gemm_function("float64")
_gemm_s = blas.gemm_function("float32")
_ROW, _N, _T = blas.CBLAS_ROW_MAJOR, blas.CBLAS_NO_TRANS, blas.CBLAS_TRANS
# Below this many multiply-adds a second thread costs more than it saves (a hand-off is ~20 us).
SPLIT_FROM = 1 << 22
# A pooled element costs about as much as this many of a convolution's multiply-adds (measured:
# a 256x16x28x28 max pool gradient 6.5 ms, a 230M multiply-add convolution ~8 ms), so pools
# split from 2^18 elements.
POOL_WORK_PER_ELEMENT = 16


@_jit
def _gemm(double, trans_a, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """C = A @ B + beta * C on addresses (row-major), in float64 or float32."""
    if double:
        _gemm_d(_ROW, trans_a, trans_b, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc)
    else:
        _gemm_s(_ROW, trans_a, trans_b, m, n, k, np.float32(1.0), a, lda, b, ldb, np.float32(beta), c, ldc)


# OpenBLAS multiplies small matrices with its own kernels, without packing; a column block of
# the results of this many was faster than the whole row on every benchmark shape (~1.3x).
COLUMN_BLOCK = 128


@_jit
def _gemm_blocks(double, trans_a, m, n, k, a, lda, b, beta, c):
    """C (m x n) = op(A) @ B (k x n) + beta * C, in column blocks of B and C (both n wide)."""
    item = np.uintp(8 if double else 4)
    for c0 in range(0, n, COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, n - c0)
        _gemm(double, trans_a, _N, m, width, k, a, lda, b + np.uintp(c0) * item, n, beta, c + np.uintp(c0) * item, n)


@_jit
def _at(a, offset):
    """The address of a's flat element `offset` (unsigned: a signed offset would make it a float)."""
    return a.ctypes.data + np.uintp(offset * a.itemsize)


@_jit
def _valid_range(size, out, offset, stride):
    """The windows b in [0, out) whose element b * stride + offset lies inside [0, size)."""
    lo = 0 if offset >= 0 else (-offset + stride - 1) // stride
    hi = 0 if size - offset <= 0 else (size - offset + stride - 1) // stride
    return min(lo, out), max(min(hi, out), min(lo, out))


@_jit
def _im2col(x, n, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols):
    """cols[(c, i, j), (a, b)] = x[n, c0 + c, a * sh - ph + i * dh, b * sw - pw + j * dw] (0 outside)."""
    height, width = x.shape[2], x.shape[3]
    for c in range(cg):
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                offset = j * dw - pw
                lo, hi = _valid_range(width, ow, offset, sw)
                for a in range(oh):
                    r = a * sh - ph + i * dh
                    base = a * ow
                    if r < 0 or r >= height:
                        for b in range(ow):
                            cols[row, base + b] = 0
                        continue
                    for b in range(lo):
                        cols[row, base + b] = 0
                    for b in range(lo, hi):
                        cols[row, base + b] = x[n, c0 + c, r, b * sw + offset]
                    for b in range(hi, ow):
                        cols[row, base + b] = 0


@_jit
def _col2im(cols, n, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx):
    """The adjoint of _im2col: dx[n, c0 + c, ...] += each column entry where it was read from."""
    height, width = dx.shape[2], dx.shape[3]
    for c in range(cg):
        for i in range(kh):
            for j in range(kw):
                row = (c * kh + i) * kw + j
                offset = j * dw - pw
                lo, hi = _valid_range(width, ow, offset, sw)
                for a in range(oh):
                    r = a * sh - ph + i * dh
                    if r < 0 or r >= height:
                        continue
                    base = a * ow
                    for b in range(lo, hi):
                        dx[n, c0 + c, r, b * sw + offset] += cols[row, base + b]


@_jit
def _direct(kh, kw, sh, sw, ph, pw):
    """A 1x1 kernel with stride 1 and no padding reads each image as it is: no im2col."""
    return kh == 1 and kw == 1 and sh == 1 and sw == 1 and ph == 0 and pw == 0


@_jit
def _padded_size(height, width, kh, kw, sh, ph, pw, dh, dw, oh, ow):
    """(hp, wp, slack): the padded image's size, and the zeros after it that the last taps read
    (the result is computed on a grid wp wide whose last wp - ow columns are discarded)."""
    hp = max(ph + height, (kh - 1) * dh + (oh - 1) * sh + 1)
    wp = max(pw + width, (kw - 1) * dw + ow)
    return hp, wp, (kw - 1) * dw + wp


@_jit
def _pad_image(x, n, c0, cg, ph, pw, hp, wp, xpad):
    """xpad[c, ph + r, pw + q] = x[n, c0 + c, r, q]; the rest of xpad stays as it is (zero)."""
    height, width = x.shape[2], x.shape[3]
    for c in range(cg):
        for r in range(height):
            dst = (c * hp + ph + r) * wp + pw
            for q in range(width):
                xpad[dst + q] = x[n, c0 + c, r, q]


@_jit
def _pad_cotangent(gout, n, o0, og, oh, ow, wp, gpad):
    """gpad[o, a * wp + b] = gout[n, o0 + o, a, b]; the discarded columns stay zero."""
    for o in range(og):
        for a in range(oh):
            dst = (o * oh + a) * wp
            for b in range(ow):
                gpad[dst + b] = gout[n, o0 + o, a, b]


# With stride 1 both ways, im2col's matrix row (c, i, j), computed on the padded width, is the
# padded image's channel c shifted by the tap's offset i * dh * wp + j * dw, so the product with
# the whole matrix is a sum over taps of gemms reading the padded image in place (rows plane =
# hp * wp apart): no im2col copy. Each tap's gemm has only cg as its inner size, which pays from
# 4 input channels (measured, one thread, 256 images of 14x14, 16 -> 32 channels: forward 5.5 ms
# against 10.2 for a copy of runs of the padded image + gemm, input gradient 4.8 against 12.8,
# weight gradient 6.0 against 15.0; 4 -> 32: 2.4 against 3.1 forward; with 1 input channel 3.6
# against 3.0). Below that im2col + gemm was faster than copying runs of the padded image (1
# channel at 28x28: 2.2 against 3.0 ms in each direction).
SHIFT_FROM_CHANNELS = 4


@_jit
def _shifted(cg, sh, sw):
    return sh == 1 and sw == 1 and cg >= SHIFT_FROM_CHANNELS


@_jit
def _taps(w, o0, og, wt):
    """wt[i, j, o, c] = w[o0 + o, c, i, j]: each tap's (output, input) channel matrix."""
    for o in range(og):
        for c in range(w.shape[1]):
            for i in range(w.shape[2]):
                for j in range(w.shape[3]):
                    wt[i, j, o, c] = w[o0 + o, c, i, j]


@_jit
def _all_finite(a):
    """Whether no element is inf or nan (a * 0 is 0 exactly for the others)."""
    total = a.dtype.type(0)
    for v in a.reshape(-1):
        total += v * 0
    return total == 0


@_jit
def _tap_forward(double, og, cg, t, plane, wp, dh, dw, wt, xpad, wide):
    """wide (og x t) = sum over taps of wt[i, j] @ (xpad shifted by the tap), in column blocks."""
    kh, kw = wt.shape[0], wt.shape[1]
    for c0 in range(0, t, COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, t - c0)
        for i in range(kh):
            for j in range(kw):
                _gemm(double, _N, _N, og, width, cg, _at(wt, (i * kw + j) * og * cg), cg,
                      _at(xpad, i * dh * wp + j * dw + c0), plane, 0.0 if i + j == 0 else 1.0, _at(wide, c0), t)


@_jit
def _tap_input_grad(double, og, cg, t, plane, wp, dh, dw, wt, gpad, dxpad):
    """dxpad += each tap's wt[i, j]^T @ gpad, added at the tap's shift (the adjoint of _tap_forward)."""
    kh, kw = wt.shape[0], wt.shape[1]
    for c0 in range(0, t, COLUMN_BLOCK):
        width = min(COLUMN_BLOCK, t - c0)
        for i in range(kh):
            for j in range(kw):
                _gemm(double, _T, _N, cg, width, og, _at(wt, (i * kw + j) * og * cg), cg, _at(gpad, c0), t, 1.0,
                      _at(dxpad, i * dh * wp + j * dw + c0), plane)


@_jit
def _tap_weight_grad(double, og, cg, t, plane, wp, dh, dw, gpad, xpad, dwt):
    """dwt[i, j] (cg x og) += (xpad shifted by the tap) @ gpad^T: the tap's weight gradient,
    transposed (OpenBLAS ran this product 10-15% faster than gpad @ xpad^T on 4x4 to 14x14)."""
    kh, kw = dwt.shape[0], dwt.shape[1]
    for i in range(kh):
        for j in range(kw):
            _gemm(double, _N, _T, cg, og, t, _at(xpad, i * dh * wp + j * dw), plane, gpad.ctypes.data, t, 1.0,
                  _at(dwt, (i * kw + j) * og * cg), og)


@_jit
def conv_forward(x, w, out, lo, hi, sh, sw, ph, pw, dh, dw, groups, double):
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    out_channels, cg, kh, kw = w.shape
    oh, ow = out.shape[2], out.shape[3]
    og, k, p = out_channels // groups, cg * kh * kw, oh * ow
    direct = _direct(kh, kw, sh, sw, ph, pw)
    if direct:
        for n in range(lo, hi):
            for g in range(groups):
                _gemm_blocks(double, _N, og, p, k, _at(w, g * og * k), k, _at(x, (n * channels + g * cg) * height * width),
                             0.0, _at(out, (n * out_channels + g * og) * p))
    elif _shifted(cg, sh, sw):
        hp, wp, slack = _padded_size(height, width, kh, kw, sh, ph, pw, dh, dw, oh, ow)
        t, plane = oh * wp, hp * wp
        xpad = np.zeros(cg * plane + slack, x.dtype)
        wt = np.empty((kh, kw, og, cg), x.dtype)
        wide = np.empty((og, oh, wp), x.dtype)
        for g in range(groups):
            _taps(w, g * og, og, wt)
            for n in range(lo, hi):
                _pad_image(x, n, g * cg, cg, ph, pw, hp, wp, xpad)
                _tap_forward(double, og, cg, t, plane, wp, dh, dw, wt, xpad, wide)
                out[n, g * og:(g + 1) * og] = wide[:, :, :ow]
    else:
        cols = np.empty((k, p), x.dtype)
        for n in range(lo, hi):
            for g in range(groups):
                _im2col(x, n, g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
                _gemm_blocks(double, _N, og, p, k, _at(w, g * og * k), k, cols.ctypes.data, 0.0,
                             _at(out, (n * out_channels + g * og) * p))


@_jit
def conv_input_grad(gout, w, dx, lo, hi, sh, sw, ph, pw, dh, dw, groups, double):
    channels, height, width = dx.shape[1], dx.shape[2], dx.shape[3]
    out_channels, cg, kh, kw = w.shape
    oh, ow = gout.shape[2], gout.shape[3]
    og, k, p = out_channels // groups, cg * kh * kw, oh * ow
    direct = _direct(kh, kw, sh, sw, ph, pw)
    if direct:
        for n in range(lo, hi):
            for g in range(groups):
                _gemm_blocks(double, _T, k, p, og, _at(w, g * og * k), k, _at(gout, (n * out_channels + g * og) * p),
                             0.0, _at(dx, (n * channels + g * cg) * height * width))
    elif _shifted(cg, sh, sw) and _all_finite(w):
        # the discarded columns of gpad are zero and add 0 * w: exact only where w is finite
        hp, wp, slack = _padded_size(height, width, kh, kw, sh, ph, pw, dh, dw, oh, ow)
        t, plane = oh * wp, hp * wp
        gpad = np.zeros(og * t, dx.dtype)
        wt = np.empty((kh, kw, og, cg), dx.dtype)
        dxpad = np.empty(cg * plane + slack, dx.dtype)
        planes = dxpad[:cg * plane].reshape((cg, hp, wp))
        for g in range(groups):
            _taps(w, g * og, og, wt)
            for n in range(lo, hi):
                _pad_cotangent(gout, n, g * og, og, oh, ow, wp, gpad)
                dxpad[:] = 0
                _tap_input_grad(double, og, cg, t, plane, wp, dh, dw, wt, gpad, dxpad)
                dx[n, g * cg:(g + 1) * cg] = planes[:, ph:ph + height, pw:pw + width]
    else:
        cols = np.empty((k, p), dx.dtype)
        for n in range(lo, hi):
            dx[n] = 0
            for g in range(groups):
                _gemm_blocks(double, _T, k, p, og, _at(w, g * og * k), k, _at(gout, (n * out_channels + g * og) * p),
                             0.0, cols.ctypes.data)
                _col2im(cols, n, g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, dx)


@_jit
def conv_weight_grad(x, gout, dw_sum, lo, hi, sh, sw, ph, pw, dh, dw, groups, double):
    """dw_sum += the weight gradient of images [lo, hi)."""
    channels, height, width = x.shape[1], x.shape[2], x.shape[3]
    out_channels, cg, kh, kw = dw_sum.shape
    oh, ow = gout.shape[2], gout.shape[3]
    og, k, p = out_channels // groups, cg * kh * kw, oh * ow
    direct = _direct(kh, kw, sh, sw, ph, pw)
    if direct:
        for n in range(lo, hi):
            for g in range(groups):
                _gemm(double, _N, _T, og, k, p, _at(gout, (n * out_channels + g * og) * p), p,
                      _at(x, (n * channels + g * cg) * height * width), p, 1.0, _at(dw_sum, g * og * k), k)
    elif _shifted(cg, sh, sw):
        # the discarded columns read real elements, which gpad's zeros multiply: an image holding
        # inf or nan goes through im2col instead, which has no discarded columns
        hp, wp, slack = _padded_size(height, width, kh, kw, sh, ph, pw, dh, dw, oh, ow)
        t, plane = oh * wp, hp * wp
        xpad = np.zeros(cg * plane + slack, x.dtype)
        gpad = np.zeros(og * t, x.dtype)
        cols = np.empty((k, p), x.dtype)
        dwt = np.empty((kh, kw, cg, og), x.dtype)
        for g in range(groups):
            dwt[...] = 0
            for n in range(lo, hi):
                _pad_image(x, n, g * cg, cg, ph, pw, hp, wp, xpad)
                _pad_cotangent(gout, n, g * og, og, oh, ow, wp, gpad)
                if _all_finite(xpad):
                    _tap_weight_grad(double, og, cg, t, plane, wp, dh, dw, gpad, xpad, dwt)
                else:
                    _im2col(x, n, g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
                    _gemm(double, _N, _T, og, k, p, _at(gout, (n * out_channels + g * og) * p), p,
                          cols.ctypes.data, p, 1.0, _at(dw_sum, g * og * k), k)
            for o in range(og):
                for c in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            dw_sum[g * og + o, c, i, j] += dwt[i, j, c, o]
    else:
        cols = np.empty((k, p), x.dtype)
        for n in range(lo, hi):
            for g in range(groups):
                _im2col(x, n, g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, cols)
                _gemm(double, _N, _T, og, k, p, _at(gout, (n * out_channels + g * og) * p), p,
                      cols.ctypes.data, p, 1.0, _at(dw_sum, g * og * k), k)


# ---- pooling ---------------------------------------------------------------------------------
# A window's maximum is found with branch-free selects, and its position (for the gradient) as
# the first element equal to it: on random data a branch per element mispredicts half the time,
# and tracking the position along with the maximum kept LLVM from vectorizing; measured on the
# benchmark's 256x16x28x28 pool, 12 ms either way against 2.2 ms for the maximum alone and 4.6 ms
# for maximum then position (kernel 2 unrolled).
@_jit
def _take(v, best):
    """Whether v replaces best as a window's maximum (the first maximum stays; NaN is largest)."""
    return (v > best) | ((v != v) & (best == best))


@_jit
def _same(v, best):
    return (v == best) | ((v != v) & (best != best))


@_jit
def _max_of_2x2(flat, at, width):
    best = flat[at]
    v = flat[at + 1]
    best = v if _take(v, best) else best
    v = flat[at + width]
    best = v if _take(v, best) else best
    v = flat[at + width + 1]
    return v if _take(v, best) else best


@_jit
def _first_max_of_2x2(flat, at, width):
    best = _max_of_2x2(flat, at, width)
    position = at + width + 1
    position = at + width if _same(flat[at + width], best) else position
    position = at + 1 if _same(flat[at + 1], best) else position
    return at if _same(flat[at], best) else position


@_jit
def _window_range(plane, r0, q0, kh, kw):
    """The real rows and columns of a window (padding is never a candidate)."""
    return max(r0, 0), min(r0 + kh, plane.shape[0]), max(q0, 0), min(q0 + kw, plane.shape[1])


@_jit
def _window_max(plane, r0, q0, kh, kw):
    r_lo, r_hi, q_lo, q_hi = _window_range(plane, r0, q0, kh, kw)
    best = plane[r_lo, q_lo]
    for r in range(r_lo, r_hi):
        for q in range(q_lo, q_hi):
            v = plane[r, q]
            best = v if _take(v, best) else best
    return best


@_jit
def _first_window_max(plane, r0, q0, kh, kw):
    """Flat index in `plane` of the window's first maximum."""
    best = _window_max(plane, r0, q0, kh, kw)
    r_lo, r_hi, q_lo, q_hi = _window_range(plane, r0, q0, kh, kw)
    position = 0
    for r in range(r_hi - 1, r_lo - 1, -1):
        for q in range(q_hi - 1, q_lo - 1, -1):
            position = r * plane.shape[1] + q if _same(plane[r, q], best) else position
    return position


@_jit
def _is_2x2(kh, kw, ph, pw):
    return kh == 2 and kw == 2 and ph == 0 and pw == 0


@_jit
def max_pool_forward(x, out, kh, kw, sh, sw, ph, pw):
    unrolled = _is_2x2(kh, kw, ph, pw)
    for n in range(out.shape[0]):
        for c in range(out.shape[1]):
            plane, flat, target = x[n, c], x[n, c].reshape(-1), out[n, c]
            width = plane.shape[1]
            for a in range(out.shape[2]):
                for b in range(out.shape[3]):
                    if unrolled:
                        target[a, b] = _max_of_2x2(flat, a * sh * width + b * sw, width)
                    else:
                        target[a, b] = _window_max(plane, a * sh - ph, b * sw - pw, kh, kw)


@_jit
def _first_maxima(plane, flat, out_h, out_w, kh, kw, sh, sw, ph, pw, positions):
    """positions[a * out_w + b] = the flat index of window (a, b)'s first maximum. The unrolled
    case has a loop of its own: one loop choosing per window was not inlined (5x slower)."""
    width = plane.shape[1]
    if _is_2x2(kh, kw, ph, pw):
        for a in range(out_h):
            for b in range(out_w):
                positions[a * out_w + b] = _first_max_of_2x2(flat, a * sh * width + b * sw, width)
    else:
        for a in range(out_h):
            for b in range(out_w):
                positions[a * out_w + b] = _first_window_max(plane, a * sh - ph, b * sw - pw, kh, kw)


@_jit
def max_pool_select(x, h, out, kh, kw, sh, sw, ph, pw):
    positions = np.empty(out.shape[2] * out.shape[3], np.intp)
    for n in range(out.shape[0]):
        for c in range(out.shape[1]):
            _first_maxima(x[n, c], x[n, c].reshape(-1), out.shape[2], out.shape[3], kh, kw, sh, sw, ph, pw, positions)
            source, target = h[n, c].reshape(-1), out[n, c].reshape(-1)
            for k in range(positions.size):
                target[k] = source[positions[k]]


@_jit
def max_pool_grad(x, g, dx, kh, kw, sh, sw, ph, pw):
    positions = np.empty(g.shape[2] * g.shape[3], np.intp)
    for n in range(g.shape[0]):
        for c in range(g.shape[1]):
            _first_maxima(x[n, c], x[n, c].reshape(-1), g.shape[2], g.shape[3], kh, kw, sh, sw, ph, pw, positions)
            source, target = g[n, c].reshape(-1), dx[n, c].reshape(-1)
            target[:] = 0
            for k in range(positions.size):  # in window order, as the reference adds them
                target[positions[k]] += source[k]


@_jit
def avg_pool_forward(x, out, kh, kw, sh, sw, ph, pw):
    height, width = x.shape[2], x.shape[3]
    area = kh * kw
    for n in range(out.shape[0]):
        for c in range(out.shape[1]):
            for a in range(out.shape[2]):
                r0 = a * sh - ph
                for b in range(out.shape[3]):
                    q0 = b * sw - pw
                    total = 0.0  # float64 for float32 inputs too: a window's sum rounded once
                    for r in range(max(r0, 0), min(r0 + kh, height)):
                        for q in range(max(q0, 0), min(q0 + kw, width)):
                            total += x[n, c, r, q]
                    out[n, c, a, b] = total / area


@_jit
def avg_pool_grad(g, x, dx, kh, kw, sh, sw, ph, pw):
    """x: read for its shape only (dx has it)."""
    height, width = dx.shape[2], dx.shape[3]
    area = kh * kw
    dx[:] = 0
    for n in range(g.shape[0]):
        for c in range(g.shape[1]):
            for a in range(g.shape[2]):
                r0 = a * sh - ph
                for b in range(g.shape[3]):
                    q0 = b * sw - pw
                    share = g[n, c, a, b] / area
                    for r in range(max(r0, 0), min(r0 + kh, height)):
                        for q in range(max(q0, 0), min(q0 + kw, width)):
                            dx[n, c, r, q] += share


# ---- steps: node -> fn(sink, *arrays) ----------------------------------------------------------
def _as_2d(shape):
    """A 1-D convolution's shapes as 2-D ones of height 1."""
    return shape[:2] + (1,) + shape[2:] if len(shape) == 3 else shape


def _contiguous_2d(a):
    """`a` C-contiguous (the kernels index raw rows), with a 1-D convolution's shape as 2-D."""
    return np.ascontiguousarray(a).reshape(_as_2d(a.shape))


def _pairs_2d(values, spatial, fill):
    return ((fill,) + tuple(values)) if spatial == 1 else tuple(values)


def _kernel_fits(node):
    """Float32/float64 throughout, 1 or 2 spatial dims, and BLAS to call."""
    return (node.attrs["spatial"] in (1, 2) and node.dtype.char in "df" and _gemm_d is not None
            and _gemm_s is not None and all(x.dtype == node.dtype for x in node.inputs))


def _split(batch, work):
    """Image ranges, one per thread where the work pays for a hand-off."""
    parts = min(_threads(), batch) if work >= SPLIT_FROM else 1
    bounds = [batch * i // parts for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if lo < hi]


def _run_parts(kernel, ranges, make_args, calls_blas=True):
    """kernel(*make_args(lo, hi)) for each range, the first on this thread; a kernel calling BLAS
    runs with OpenBLAS on one thread (the parts are the parallelism; its per-image gemms are
    large enough for OpenBLAS to hand them to its own threads otherwise)."""
    def run_all():
        jobs = [_executor().submit(kernel, *make_args(lo, hi)) for lo, hi in ranges[1:]]
        kernel(*make_args(*ranges[0]))
        for job in jobs:
            job.result()

    if calls_blas and blas.OPENBLAS is not None:
        blas.OPENBLAS.one_thread(run_all)
    else:
        run_all()


def _conv_geometry(attrs):
    spatial = attrs["spatial"]
    stride = _pairs_2d(attrs["stride"], spatial, 1)
    before = _pairs_2d([lo for lo, _ in attrs["padding"]], spatial, 0)
    dilation = _pairs_2d(attrs["dilation"], spatial, 1)
    return (*stride, *before, *dilation, attrs["groups"])


def _conv_step(node):
    if not _kernel_fits(node):
        return None
    attrs, dtype, double = node.attrs, node.dtype, node.dtype.char == "d"
    geometry = _conv_geometry(attrs)

    def conv_step(sink, x, w):
        shape = at_run_time(conv_output_shape, x.shape, w.shape, attrs)
        out = sink.get(shape, dtype)
        x4, w4 = _contiguous_2d(x), _contiguous_2d(w)
        work = out.size * math.prod(w.shape[1:])
        if out.size:
            _run_parts(conv_forward, _split(x.shape[0], work),
                       lambda lo, hi: (x4, w4, out.reshape(_as_2d(shape)), lo, hi, *geometry, double))
        return out

    return conv_step


def _conv_input_grad_step(node):
    if not _kernel_fits(node):
        return None
    attrs, dtype, double, op = node.attrs, node.dtype, node.dtype.char == "d", node.op
    geometry = _conv_geometry(attrs)

    def conv_input_grad_step(sink, g, w, x):
        at_run_time(op.infer, [g, w, x], attrs)
        dx = sink.get(x.shape, dtype)
        g4, w4 = _contiguous_2d(g), _contiguous_2d(w)
        if g.size == 0 or w.size == 0:
            dx[...] = 0
            return dx
        _run_parts(conv_input_grad, _split(x.shape[0], g.size * math.prod(w.shape[1:])),
                   lambda lo, hi: (g4, w4, dx.reshape(_as_2d(x.shape)), lo, hi, *geometry, double))
        return dx

    return conv_input_grad_step


def _conv_weight_grad_step(node):
    if not _kernel_fits(node):
        return None
    attrs, dtype, double, op = node.attrs, node.dtype, node.dtype.char == "d", node.op
    geometry = _conv_geometry(attrs)

    def conv_weight_grad_step(sink, x, g, w):
        at_run_time(op.infer, [x, g, w], attrs)
        dw = sink.get(w.shape, dtype)
        x4, g4 = _contiguous_2d(x), _contiguous_2d(g)
        ranges = _split(x.shape[0], g.size * math.prod(w.shape[1:]))
        if g.size == 0 or dw.size == 0 or not ranges:
            dw[...] = 0
            return dw
        # one partial sum per range, the first in the result itself, added in range order
        partials = [dw.reshape(_as_2d(w.shape))] + [np.empty(_as_2d(w.shape), dtype) for _ in ranges[1:]]
        for part in partials:
            part[...] = 0
        index = {r: i for i, r in enumerate(ranges)}
        _run_parts(conv_weight_grad, ranges,
                   lambda lo, hi: (x4, g4, partials[index[(lo, hi)]], lo, hi, *geometry, double))
        for part in partials[1:]:
            partials[0] += part
        return dw

    return conv_weight_grad_step


def _pool_fits(node):
    return node.attrs["spatial"] == 2 and node.dtype.char in "df" and all(x.dtype == node.dtype for x in node.inputs)


def _pool_geometry(attrs):
    return (*attrs["kernel_size"], *attrs["stride"], *attrs["padding"])


def _windows_tile_the_height(geometry, height):
    """Whether the windows cover each plane's rows exactly, each row in one window row."""
    kh, _, sh, _, ph, _ = geometry
    return ph == 0 and sh == kh and height % kh == 0


def _stacked(a):
    """A (images, channels, h, w) array as one plane of channels * h rows per image (one plane
    for all images made the max pool gradient's positions buffer as large as the batch)."""
    return a.reshape(a.shape[0], 1, a.shape[1] * a.shape[2], a.shape[3])


def _pool_step(node, kernel):
    """A pooling step: the reference's shape checks, then kernel(*arrays, result, *geometry)."""
    if not _pool_fits(node):
        return None
    attrs, dtype, op, geometry = node.attrs, node.dtype, node.op, _pool_geometry(node.attrs)

    def pool_step(sink, *arrays):
        shape, _ = at_run_time(op.infer, arrays, attrs)
        result = sink.get(tuple(shape), dtype)
        arrays = [np.ascontiguousarray(a) for a in arrays] + [result]
        # Where windows tile the height, an image's planes stacked one below the other pool as
        # one tall plane: no window reaches into the next plane. The per-plane loop's overhead (views,
        # a positions pass) was about as large as the work on the benchmark's small planes.
        stack = _windows_tile_the_height(geometry, max(a.shape[2] for a in arrays))
        # images are independent: large batches are split between threads like convolutions
        ranges = _split(shape[0], max(result.size, arrays[0].size) * POOL_WORK_PER_ELEMENT)
        if not ranges:  # an empty batch
            return result
        _run_parts(kernel, ranges,
                   lambda lo, hi: (*[_stacked(a[lo:hi]) if stack else a[lo:hi] for a in arrays], *geometry),
                   calls_blas=False)
        return result

    return pool_step


# op -> (node -> fn(sink, *arrays) writing its result into sink.get(shape, dtype), or None where
# the op's NumPy code runs instead)
CONV_STEPS = {
    CONV: _conv_step,
    CONV_INPUT_GRAD: _conv_input_grad_step,
    CONV_WEIGHT_GRAD: _conv_weight_grad_step,
    MAX_POOL: lambda node: _pool_step(node, max_pool_forward),
    MAX_POOL_SELECT: lambda node: _pool_step(node, max_pool_select),
    MAX_POOL_GRAD: lambda node: _pool_step(node, max_pool_grad),
    AVG_POOL: lambda node: _pool_step(node, avg_pool_forward),
    AVG_POOL_GRAD: lambda node: _pool_step(node, avg_pool_grad),
}
