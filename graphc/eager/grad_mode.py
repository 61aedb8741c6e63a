"""Whether eager ops are recorded for backward: no_grad, enable_grad, set_grad_enabled.

The flag is per thread, as in PyTorch, so a data-loading thread under no_grad does not switch
recording off for the training loop. Each works as a context manager and as a decorator.
"""
import functools
import threading

_state = threading.local()


def is_grad_enabled():
    return getattr(_state, "enabled", True)


def _set(flag):
    _state.enabled = bool(flag)


class _GradMode:
    """Base: entering sets the mode to `self.flag`, leaving restores the previous one."""

    flag = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        _set(self.flag)
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False

    def __call__(self, func):
        flag = self.flag

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = is_grad_enabled()
            _set(flag)
            try:
                return func(*args, **kwargs)
            finally:
                _set(prev)

        return wrapper


class no_grad(_GradMode):
    """Ops run inside record nothing: their results do not require grad."""

    flag = False


class enable_grad(_GradMode):
    """Recording on, even inside no_grad."""

    flag = True


class set_grad_enabled(_GradMode):
    """Sets the mode at once (so a bare call works as a switch); as a `with` it restores on exit."""

    def __init__(self, mode):
        self.flag = bool(mode)
        self._prev = is_grad_enabled()
        _set(self.flag)

    def __enter__(self):
        return self

    def __call__(self, func):
        # Used as a decorator the call is no statement: undo the switch made in __init__.
        _set(self._prev)
        return super().__call__(func)
