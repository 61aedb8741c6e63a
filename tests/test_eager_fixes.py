"""Eager-mode corners where graphc now follows PyTorch: hook results, gradient= dtypes, grad mode
in decorated generators, and .numpy() under no_grad."""
import numpy as np
import pytest

import graphc as gc


# ---- hooks may not change a gradient's shape or dtype (PyTorch's check_variable_result) ----------
def test_hook_that_changes_the_size_raises_and_leaves_grad_alone():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2

    def halve(g):
        return g[:2]

    y.register_hook(halve)
    with pytest.raises(RuntimeError, match=r"^hook 'halve' has changed the size of value \(was \(3,\) got \(2,\)\)$"):
        (y * y).sum().backward()
    assert x.grad is None


def test_leaf_hook_that_changes_the_size_or_dtype_raises():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    handle = x.register_hook(lambda g: g.reshape(3, 1))
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has changed the size of value"):
        (x * x).sum().backward()
    handle.remove()
    handle = x.register_hook(lambda g: g.float())
    with pytest.raises(RuntimeError, match=r"hook '<lambda>' has changed the type of value \(was float64 got float32\)"):
        (x * x).sum().backward()
    handle.remove()
    x.register_hook(lambda g: 3.0)
    with pytest.raises(TypeError, match=r"expected Tensor, but hook '<lambda>' returned 'float'"):
        (x * x).sum().backward()
    assert x.grad is None


def test_hook_that_keeps_shape_and_dtype_still_replaces_the_gradient():
    x = gc.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * gc.tensor([1.0, 10.0, 100.0]))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 40.0, 600.0])


# ---- backward(gradient=...) ----------------------------------------------------------------------
COMPLEX_MISMATCH = (r"For complex Tensors, both grad_output and output are required to have the same dtype\. "
                    r"Mismatch in dtype: grad_output\[0\] has a dtype of {} and output\[0\] has a dtype of {}\.")


@pytest.mark.parametrize("gradient", [np.array([1 + 2j, 3]), gc.tensor(np.array([1j, 1.0]))],
                         ids=["array", "tensor"])
def test_complex_gradient_for_a_real_output_raises(gradient):
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=COMPLEX_MISMATCH.format("complex128", "float64")):
        (x * 2).backward(gradient=gradient)
    assert x.grad is None


def test_real_gradient_for_a_complex_output_raises():
    z = gc.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    with pytest.raises(RuntimeError, match=COMPLEX_MISMATCH.format("float64", "complex128")):
        (z * 2).backward(gradient=np.ones(2))


def test_gradient_of_the_wrong_shape_raises():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape of \(3,\) and "
                                           r"output\[0\] has a shape of \(2,\)"):
        (x * 2).backward(gradient=[1.0, 2.0, 3.0])


def test_real_gradient_of_another_dtype_is_cast_to_the_output_dtype():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    x.backward(gradient=gc.tensor(np.array([0.5, 4.0], np.float32)))
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, 4.0])
    (x * 3).backward(gradient=[1, 2])
    np.testing.assert_array_equal(x.grad.numpy(), [3.5, 10.0])


# ---- grad-mode decorators on generator functions (PyTorch's _wrap_generator) --------------------
def test_no_grad_on_a_generator_covers_its_body_across_yields():
    w = gc.tensor([2.0], requires_grad=True)

    @gc.no_grad()
    def scaled(factors):
        total = 0.0
        for f in factors:
            got = yield w * f
            total += got
        return total

    gen = scaled([1.0, 3.0])
    first = next(gen)
    assert not first.requires_grad and (w * 1).requires_grad  # the caller's mode is back at the yield
    second = gen.send(10.0)
    assert not second.requires_grad and second.tolist() == [6.0]
    with pytest.raises(StopIteration) as stop:
        gen.send(5.0)
    assert stop.value.value == 15.0


def test_enable_grad_and_set_grad_enabled_on_generators():
    w = gc.tensor([2.0], requires_grad=True)

    @gc.enable_grad()
    def recording():
        yield w * 2
        yield w * 3

    @gc.set_grad_enabled(False)
    def not_recording():
        yield w * 2

    with gc.no_grad():
        assert [t.requires_grad for t in recording()] == [True, True]
    assert [t.requires_grad for t in not_recording()] == [False]
    assert (w * 2).requires_grad  # decorating switched nothing for the caller


def test_throw_and_close_reach_a_decorated_generator_in_its_mode():
    seen = []

    @gc.no_grad()
    def guarded():
        try:
            yield 1
        except ValueError:
            seen.append(("caught", gc.is_grad_enabled()))
            yield 2
        finally:
            seen.append(("finally", gc.is_grad_enabled()))

    gen = guarded()
    assert next(gen) == 1
    assert gen.throw(ValueError("x")) == 2
    gen.close()
    assert seen == [("caught", False), ("finally", False)] and gc.is_grad_enabled()


# ---- .numpy() of a tensor that requires grad (PyTorch's tensor_to_numpy) -------------------------
def test_numpy_of_a_tensor_that_requires_grad_works_under_no_grad():
    x = gc.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        x.numpy()
    with gc.no_grad():
        a = x.numpy()
        b = np.asarray(x)
    a[0] = 7.0  # the same memory, as PyTorch's numpy() shares the tensor's storage
    assert x.tolist() == [7.0, 2.0] and np.shares_memory(a, b)
    assert np.shares_memory(x.numpy(force=True), a)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        np.asarray(x)
