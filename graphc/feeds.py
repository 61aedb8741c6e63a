"""Checking what a compiled function is called with, before anything runs."""
import numpy as np

from graphc.ir.errors import FeedError
from graphc.ir.types import check_fits, fmt_shape, shapes_agree

from .feed_dims import check_sizes, fast_conditions

_FAMILY = {"f": "float", "c": "complex", "i": "integer", "u": "integer", "b": "bool"}


def _describe(node):
    return f"{node.dtype.name}{fmt_shape(node.shape)}"


def convert_feed(node, value):
    """The fed value as an array of the placeholder's dtype, or a FeedError saying what is wrong."""
    expected = node.dtype
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
        if _FAMILY.get(array.dtype.kind) != _FAMILY.get(expected.kind):
            raise FeedError(
                f"input '{node.name}': expected {_FAMILY.get(expected.kind, expected.kind)} data "
                f"({_describe(node)}), got an array of dtype {array.dtype} with shape {fmt_shape(array.shape)}"
            )
    else:
        # Python numbers and lists are 'weak', as in NumPy 2: ints may feed a float input.
        try:
            array = np.asarray(value)
        except ValueError as err:  # a ragged list
            raise FeedError(
                f"input '{node.name}': expected {_describe(node)}, got a {type(value).__name__} that is not "
                f"a rectangular array ({err})"
            ) from None
        if array.dtype == object or (
            not np.can_cast(array.dtype, expected, casting="same_kind")
        ):
            raise FeedError(
                f"input '{node.name}': expected {_describe(node)}, got {type(value).__name__} "
                f"holding {array.dtype} data"
            )
    shape = array.shape
    if not shapes_agree(node.shape, shape):
        raise FeedError(
            f"input '{node.name}': expected shape {fmt_shape(node.shape)} ({_describe(node)}), "
            f"got shape {fmt_shape(shape)} ({array.dtype})"
        )
    if array.dtype != expected:
        check_fits(array, expected, f"input '{node.name}'")
        array = array.astype(expected)
    return array


def bind_feeds(inputs, args, kwargs, size_checks=()):
    """Checked arrays, in the order of `inputs`, from positional and keyword arguments;
    `size_checks` (from feed_dims.size_links) say which run-time sizes must agree."""
    names = [x.name for x in inputs]
    if len(args) > len(inputs):
        raise FeedError(f"expected at most {len(inputs)} inputs ({', '.join(names)}), got {len(args)} positional")
    given = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise FeedError(f"unknown input name '{key}'; the inputs are: {', '.join(names) or '(none)'}")
        if key in given:
            raise FeedError(f"input '{key}' given both by position and by name")
        given[key] = value
    missing = [x for x in inputs if x.name not in given]
    if missing:
        shown = ", ".join(f"'{x.name}' ({_describe(x)})" for x in missing)
        raise FeedError(f"missing input {shown}")
    feeds = tuple(convert_feed(x, given[x.name]) for x in inputs)
    check_sizes(inputs, feeds, size_checks)
    return feeds


def make_fast_check(inputs, size_checks=()):
    """A generated predicate: are these positional args already arrays of exactly the right
    dtype and shape, with the sizes that must agree equal? Then a call skips conversion (the
    common case costs a few attribute reads)."""
    namespace = {"ndarray": np.ndarray}
    conditions = [f"len(args) == {len(inputs)}"]
    for i, x in enumerate(inputs):
        namespace[f"d{i}"] = x.dtype
        conditions.append(f"type(args[{i}]) is ndarray and args[{i}].dtype is d{i}")
        if None in x.shape:
            conditions.append(f"args[{i}].ndim == {len(x.shape)}")
            conditions += [f"args[{i}].shape[{axis}] == {d}" for axis, d in enumerate(x.shape) if d is not None]
        else:
            conditions.append(f"args[{i}].shape == {tuple(x.shape)!r}")
    conditions += fast_conditions(size_checks)
    source = "def fast_check(args):\n    return " + " and ".join(conditions) + "\n"
    exec(compile(source, "<graphc feed check>", "exec"), namespace)
    return namespace["fast_check"]
