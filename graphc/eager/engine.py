"""Walking the tape backwards: `Tensor.backward` and `autograd.grad`.

Each node runs once, after every gradient for it has arrived (dependency counting), newest node
first among those ready, as PyTorch orders them. With create_graph the walk itself is recorded
(the rules are written with ops), so its results can be differentiated again.
"""
import heapq

import numpy as np

from graphc.ir.ops.elementwise import add, astype

from .grad_mode import set_grad_enabled
from .tape import AccumulateGrad
from .tensor import Tensor


def _root_grad(g, out, i):
    """gradient= for output i as a tensor of the output's shape and dtype. As in PyTorch, a real
    gradient is cast to the output's dtype, but a complex one for a real output (or the reverse)
    is an error: casting would drop its imaginary part."""
    g = g if isinstance(g, Tensor) else Tensor._make(np.array(g))
    if g.shape != out.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] has a "
            f"shape of {out.shape}"
        )
    if (g.dtype.kind == "c") != (out.dtype.kind == "c"):
        raise RuntimeError(
            "For complex Tensors, both grad_output and output are required to have the same dtype. "
            f"Mismatch in dtype: grad_output[{i}] has a dtype of {g.dtype} and output[{i}] has a "
            f"dtype of {out.dtype}."
        )
    return g if g.dtype == out.dtype else astype(g, out.dtype)


def _root_grads(outputs, grads):
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (this output has shape "
                    f"{out.shape}); pass gradient= of the same shape"
                )
            g = Tensor._make(np.ones(out.shape, out.dtype))
        else:
            g = _root_grad(g, out, i)
        result.append(g)
    return result


def _discover(roots, targets):
    """All nodes reachable from roots, and those from which a target node can be reached."""
    seen, order, stack = set(), [], [(n, False) for n in roots]
    while stack:  # iterative post-order: long chains must not hit the recursion limit
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for edge in node.next_functions:
            if edge is not None and edge[0] not in seen:
                stack.append((edge[0], False))
    needed = set()
    for node in order:  # children come before parents in post-order
        if targets is None or node in targets or any(
            e is not None and e[0] in needed for e in node.next_functions
        ):
            needed.add(node)
    return needed


def _run_hooks(node, nr, grad):
    for hook in list(node.pre_hooks.get(nr, {}).values()):
        new = hook(grad)
        if new is not None:
            _check_hook_result(hook, grad, new)
            grad = new
    return grad


def _check_hook_result(hook, grad, new):
    """A hook may replace a gradient only by a tensor of its dtype and shape (PyTorch's check):
    anything else would be summed into, or stored as, the wrong gradient."""
    name = getattr(hook, "__name__", "<unknown>")
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Tensor, but hook '{name}' returned '{type(new).__name__}'")
    if new.dtype != grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {grad.dtype} got {new.dtype})")
    if new.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value (was {grad.shape} got {new.shape})")


def run(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate root_grads from the root edges. Without `capture`, accumulate into leaves' .grad;
    with it (a list of edges), return the gradient that reached each captured edge instead."""
    targets = None if capture is None else {e[0] for e in capture}
    needed = _discover([e[0] for e in roots], targets)
    deps = dict.fromkeys(needed, 0)
    for node in needed:
        for e in node.next_functions:
            if e is not None and e[0] in needed:
                deps[e[0]] += 1
    buffers = {}
    for (node, nr), g in zip(roots, root_grads):
        if node in needed:
            slot = buffers.setdefault(node, [None] * node.num_outputs)
            slot[nr] = g if slot[nr] is None else add(slot[nr], g)
    captured = {}
    ready = [(-n.sequence_nr, id(n), n) for n in needed if deps[n] == 0]
    heapq.heapify(ready)
    with set_grad_enabled(create_graph):
        while ready:
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node, None)
            if grads is not None:
                grads = [None if g is None else _run_hooks(node, nr, g) for nr, g in enumerate(grads)]
                if targets is not None and node in targets:
                    captured[node] = grads
                elif isinstance(node, AccumulateGrad):
                    node.variable._accumulate_grad(grads[0], create_graph)
                wanted = [e is not None and e[0] in needed for e in node.next_functions]
                if any(wanted) and any(g is not None for g in grads):
                    input_grads = node.apply(grads, wanted)
                    for e, g in zip(node.next_functions, input_grads):
                        if g is None or e is None or e[0] not in needed:
                            continue
                        slot = buffers.setdefault(e[0], [None] * e[0].num_outputs)
                        slot[e[1]] = g if slot[e[1]] is None else add(slot[e[1]], g)
                    if not retain_graph:
                        node.release()
            for e in node.next_functions:
                if e is not None and e[0] in needed:
                    deps[e[0]] -= 1
                    if deps[e[0]] == 0:
                        heapq.heappush(ready, (-e[0].sequence_nr, id(e[0]), e[0]))
    if capture is None:
        return None
    return [None if e[0] not in captured else captured[e[0]][e[1]] for e in capture]


def _as_list(x):
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaf) into every leaf's .grad (or only into `inputs`)."""
    tensors = _as_list(tensors)
    grads = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} gradients for {len(tensors)} tensors")
    grads = _root_grads(tensors, grads)
    retain_graph = create_graph if retain_graph is None else retain_graph
    roots = [t._grad_edge() for t in tensors]
    if inputs is None:
        run(roots, grads, retain_graph, create_graph)
        return
    inputs = _as_list(inputs)
    found = grad(tensors, inputs, grads, retain_graph, create_graph, allow_unused=True)
    with set_grad_enabled(create_graph):
        for x, g in zip(inputs, found):
            if g is not None:
                x._accumulate_grad(g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """The gradients of outputs with respect to inputs, returned (not accumulated into .grad)."""
    outputs = _as_list(outputs)
    inputs = _as_list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_list(grad_outputs)
    grads = _root_grads(outputs, grad_outputs)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs must be tensors, got {type(x).__name__} at position {i}")
        if not x.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
    retain_graph = create_graph if retain_graph is None else retain_graph
    found = run([t._grad_edge() for t in outputs], grads, retain_graph, create_graph,
                capture=[x._grad_edge() for x in inputs])
    for i, g in enumerate(found):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {i}) appears to not have been used in the "
                "graph. Set allow_unused=True if this is the desired behavior."
            )
    return tuple(found)
