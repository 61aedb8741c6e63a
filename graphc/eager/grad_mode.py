"""Whether eager ops are recorded for backward: no_grad, enable_grad, set_grad_enabled.

The flag is per thread, as in PyTorch, so a data-loading thread under no_grad does not switch
recording off for the training loop. Each works as a context manager and as a decorator.
"""
import contextlib
import functools
import inspect
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
        if inspect.isgeneratorfunction(func):
            return _generator_in_mode(func, self.flag)
        flag = self.flag

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _mode(flag):
                return func(*args, **kwargs)

        return wrapper


@contextlib.contextmanager
def _mode(flag):
    prev = is_grad_enabled()
    _set(flag)
    try:
        yield
    finally:
        _set(prev)


def _generator_in_mode(func, flag):
    """A generator's body runs in the mode each time it resumes, and its caller's mode is back at
    every yield (PyTorch's _wrap_generator): a plain wrapper would only cover creating it."""

    @functools.wraps(func)
    def generator(*args, **kwargs):
        gen = func(*args, **kwargs)
        try:
            with _mode(flag):
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with _mode(flag):
                        gen.close()
                    raise
                except BaseException as err:  # thrown in by the caller: on to the generator
                    with _mode(flag):
                        response = gen.throw(err)
                else:
                    with _mode(flag):
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value

    return generator


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
