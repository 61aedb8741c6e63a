"""nan_check=True: find the first operation that turns finite inputs into NaN, and name it.

Inside a fused kernel the members are replayed one by one with the reference implementations,
so the report names the op and the user's line, not "kernel 7".
"""
import numpy as np

from graphc.ir.errors import NaNError



def _has_nan(value):
    value = np.asarray(value)
    return value.dtype.kind in "fc" and bool(np.isnan(value).any())


def _report(node, inputs):
    shown = ", ".join(f"{x.op.name}{'(has nan)' if _has_nan(v) else ''}" for x, v in zip(node.inputs, inputs))
    return NaNError(
        f"NaN produced by {node.op.name} built at {node.site} from inputs without NaN ({shown})"
    )


def check_step(node, inputs, result):
    """Raise NaNError if `node` made NaN from NaN-free inputs (tracing into fused kernels)."""
    if not _has_nan(result) or any(_has_nan(v) for v in inputs):
        return
    if node.op.name != "fused":
        raise _report(node, inputs)
    kernel = node.attrs["kernel"]
    values = {id(x): v for x, v in zip(kernel.inputs, inputs)}
    with np.errstate(all="ignore"):
        for member in kernel.members:
            args = [values[id(x)] for x in member.inputs]
            values[id(member)] = member.op.impl(*args, **member.attrs)
            if _has_nan(values[id(member)]):
                raise _report(member, args)
    raise _report(node, inputs)


def checked(node, step, takes_sink=False):
    """Wrap a step function so its result is checked. A step that writes its result where the
    call's workspace says takes that sink as its first argument."""
    if takes_sink:
        def run_into(sink, *inputs):
            result = step(sink, *inputs)
            check_step(node, inputs, result)
            return result

        return run_into

    def run(*inputs):
        result = step(*inputs)
        check_step(node, inputs, result)
        return result

    return run
