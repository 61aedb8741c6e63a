"""gradcheck: compare backward's Jacobian with central finite differences, entry by entry."""
import numpy as np

from .engine import grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _analytical(fn, inputs, wrt):
    """J[k][i] of shape (out_k.size, x_i.size), one backward pass per output entry."""
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o.numel(), inputs[i].numel())) for i in wrt] for o in outs]
    for k, out in enumerate(outs):
        if not (isinstance(out, Tensor) and out.requires_grad):
            continue
        for j in range(out.numel()):
            seed = np.zeros(out.numel(), out.dtype)
            seed[j] = 1
            grads = grad(out, [inputs[i] for i in wrt], Tensor._make(seed.reshape(out.shape)),
                         retain_graph=True, allow_unused=True)
            for col, g in enumerate(grads):
                if g is not None:
                    jac[k][col][j] = g._data.reshape(-1)
    return outs, jac


def _numerical(fn, inputs, wrt, eps):
    with no_grad():
        outs = _outputs(fn, inputs)
        jac = [[np.zeros((np.size(o._data), inputs[i].numel())) for i in wrt] for o in outs]
        for col, i in enumerate(wrt):
            data = inputs[i]._data
            for n, idx in enumerate(np.ndindex(data.shape)):
                orig = data[idx].copy()
                data[idx] = orig + eps
                plus = [np.array(o._data, dtype=np.float64) for o in _outputs(fn, inputs)]
                data[idx] = orig - eps
                minus = [np.array(o._data, dtype=np.float64) for o in _outputs(fn, inputs)]
                data[idx] = orig
                for k in range(len(outs)):
                    jac[k][col][:, n] = ((plus[k] - minus[k]) / (2 * eps)).reshape(-1)
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True if fn's gradients match finite differences for every input that requires grad."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck expects at least one input tensor that requires grad")
    for i in wrt:
        if inputs[i].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 inputs "
                "to be meaningful"
            )
    _, analytical = _analytical(fn, inputs, wrt)
    numerical = _numerical(fn, inputs, wrt, eps)
    for k, (rows_a, rows_n) in enumerate(zip(analytical, numerical)):
        for col, (a, n) in enumerate(zip(rows_a, rows_n)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False
                raise GradcheckError(
                    f"Jacobian mismatch for output {k} with respect to input {wrt[col]},\n"
                    f"numerical:{n}\nanalytical:{a}\n"
                )
    return True
