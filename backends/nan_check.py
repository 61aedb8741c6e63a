"""nan_check=True: find the first operation that turns finite inputs into NaN, and name it.

Inside an op with a body (a fused kernel) the body is replayed step by step on the reference
interpreter, so the report names the op and the user's line, not "kernel 7".
"""
import numpy as np

from graphc.ir.errors import NaNError


def _has_nan(value):
    if isinstance(value, tuple):  # a tuple-valued node's results
        return any(_has_nan(v) for v in value)
    value = np.asarray(value)
    return value.dtype.kind in "fc" and bool(np.isnan(value).any())


def _report(node, inputs):
    shown = ", ".join(f"{x.op.name}{'(has nan)' if _has_nan(v) else ''}" for x, v in zip(node.inputs, inputs))
    return NaNError(
        f"NaN produced by {node.op.name} built at {node.site} from inputs without NaN ({shown})"
    )


def check_step(node, inputs, result):
    """Raise NaNError if `node` made NaN from NaN-free inputs (naming the step inside its body
    that did, if it has one). Also the interpreter's observer."""
    if not _has_nan(result) or any(_has_nan(v) for v in inputs):
        return
    if node.op.body_attrs:
        with np.errstate(all="ignore"):
            node.op.evaluate(inputs, node.attrs, observe=check_step)  # raises at the first bad step
    raise _report(node, inputs)


def checked(node, step, sinks=0):
    """Wrap a step function so its result is checked. A step that writes its results where the
    call's workspace says takes those `sinks` first, then the inputs."""
    def run(*args):
        result = step(*args)
        check_step(node, args[sinks:], result)
        return result

    return run
