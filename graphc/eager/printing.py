"""PyTorch's tensor printing (torch/_tensor_str.py): `tensor([5.])`, `tensor(28., grad_fn=<MulBackward0>)`.

Users compare printed output with PyTorch tutorials, so the number format follows PyTorch's rules:
integral floats print as `5.`, others with 4 decimals, scientific notation when the magnitudes
span more than 1e3 or exceed 1e8 (or fall below 1e-4), columns padded to a common width.
"""
import math

import numpy as np

PRECISION = 4
LINEWIDTH = 80
THRESHOLD = 1000
EDGEITEMS = 3
# The dtypes a constructor picks by default (NumPy's) are not printed, as PyTorch omits its own.
_DEFAULT_DTYPES = {np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_)}


class _Formatter:
    def __init__(self, values):
        self.floating = values.dtype.kind in "fc"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = values.reshape(-1)
        if not self.floating:
            for v in flat:
                self.width = max(self.width, len(self._plain(v)))
            return
        finite = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if finite.size == 0:
            return
        magnitude = np.abs(finite)
        lo, hi = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(finite == np.ceil(finite)))
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            fmt = (lambda v: f"{v:.{PRECISION}e}") if self.sci_mode else (lambda v: f"{v:.0f}.")
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
            fmt = (lambda v: f"{v:.{PRECISION}e}") if self.sci_mode else (lambda v: f"{v:.{PRECISION}f}")
        self.width = max(len(fmt(v)) for v in finite)

    @staticmethod
    def _plain(v):
        return str(bool(v)) if isinstance(v, (bool, np.bool_)) else str(v.item() if hasattr(v, "item") else v)

    def format(self, v):
        if not self.floating:
            text = self._plain(v)
        else:
            v = float(v)
            if self.sci_mode:
                text = f"{v:.{PRECISION}e}"
            elif self.int_mode:
                text = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
            else:
                text = f"{v:.{PRECISION}f}"
        return text.rjust(self.width)


def _summarized(values, summarize):
    """The entries that are printed: all, or the edges of each axis with '...' between."""
    if not summarize or values.ndim == 0:
        return values
    if values.shape[0] > 2 * EDGEITEMS:
        values = np.concatenate([values[:EDGEITEMS], values[-EDGEITEMS:]])
    return np.stack([_summarized(v, True) for v in values]) if values.ndim > 1 else values


def _rows(values, fmt, indent, summarize):
    if values.ndim == 0:
        return fmt.format(values[()])
    long = summarize and len(values) > 2 * EDGEITEMS
    if values.ndim == 1:
        if long:
            items = [fmt.format(v) for v in values[:EDGEITEMS]] + [" ..."]
            items += [fmt.format(v) for v in values[-EDGEITEMS:]]
        else:
            items = [fmt.format(v) for v in values]
        per_line = max(1, math.floor((LINEWIDTH - indent) / (fmt.width + 2)))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if long:
        parts = [_rows(v, fmt, indent + 1, summarize) for v in values[:EDGEITEMS]] + ["..."]
        parts += [_rows(v, fmt, indent + 1, summarize) for v in values[-EDGEITEMS:]]
    else:
        parts = [_rows(v, fmt, indent + 1, summarize) for v in values]
    sep = "," + "\n" * (values.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def _body(data, indent):
    if data.size == 0:
        return "[]"
    summarize = data.size > THRESHOLD
    fmt = _Formatter(_summarized(data, summarize))
    return _rows(data, fmt, indent, summarize)


def tensor_repr(t):
    prefix = "tensor("
    data = t._data
    suffixes = []
    body = _body(data, len(prefix))
    if data.size == 0 and data.shape != (0,):
        suffixes.append(f"size={tuple(data.shape)}")
    if data.dtype not in _DEFAULT_DTYPES:
        suffixes.append(f"dtype={data.dtype.name}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    text = prefix + body
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > LINEWIDTH:
            text += ",\n" + " " * len(prefix) + suffix
            last_line = len(prefix) + len(suffix)
        else:
            text += ", " + suffix
            last_line += len(suffix) + 2
    return text + ")"
