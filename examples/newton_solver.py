"""Differentiate through a while_loop: a Newton solver's root x*(theta), and dx*/dtheta by gc.grad.

    python examples/newton_solver.py

For each theta > 0, x^3 + theta x - 1 = 0 has one real root x*(theta). gc.while_loop runs Newton's
method, x <- x - f(x)/f'(x), until max|f| < 1e-12 (at most 50 iterations), for a whole vector of
thetas at once (the placeholder's length is left open). The trip count is known only at run time,
yet gc.grad differentiates the loop in reverse mode: the backward pass walks the iterations back.

What it computes is the derivative of the last iterate. Newton's map N(x, theta) has dN/dx = 0 at
the root, so dx_{k+1}/dtheta = dN/dx dx_k/dtheta + dN/dtheta tends to dN/dtheta = -(df/dtheta)/(df/dx),
which is the implicit-function derivative at x*:

    dx*/dtheta = -x* / (3 x*^2 + theta)

The script prints both, and their difference, on each backend (and in eager mode, where the same
function runs as a Python loop on the tape), and the compiled solver's listing, which shows the loop's
condition and body indented under the while node (--graph gradient: the graph with the backward loop).
"""
import argparse

import numpy as np

import graphc as gc

TOL = 1e-12
MAX_ITERATIONS = 50


def f(x, theta):
    return x ** 3 + theta * x - 1.0


def newton(theta, tol=TOL, max_iterations=MAX_ITERATIONS):
    """(x*, iterations) for the equations f(x, theta_i) = 0: works on graph nodes and on eager tensors."""
    x0 = 1.0 / (1.0 + theta)  # exact at theta = 0 and as theta -> infinity; it depends on theta too

    def keep_going(state):
        x, fx, i = state
        return gc.max(gc.abs(fx)) > tol

    def step(state):
        x, fx, i = state
        x = x - fx / (3.0 * x * x + theta)
        return x, f(x, theta), i + 1

    x, _, iterations = gc.while_loop(keep_going, step, (x0, f(x0, theta), 0), max_iterations=max_iterations)
    return x, iterations


def implicit_derivative(x, theta):
    """dx*/dtheta = -(df/dtheta) / (df/dx) at the root."""
    return -x / (3.0 * x ** 2 + theta)


def build(backend, gradient=True):
    theta = gc.placeholder((None,), "float64", name="theta")
    x, iterations = newton(theta)
    if not gradient:
        return gc.compile([theta], [x, iterations], backend=backend)
    # Each x*_i depends on theta_i only, so the gradient of sum(x*) is the vector of dx*_i/dtheta_i.
    dx_dtheta = gc.grad(gc.sum(x), theta)
    return gc.compile([theta], [x, iterations, dx_dtheta], backend=backend)


def eager_solve(thetas):
    theta = gc.tensor(thetas, requires_grad=True)
    x, iterations = newton(theta)
    gc.sum(x).backward()
    return x.detach().numpy(), int(iterations), theta.grad.numpy()


def report(name, thetas, x, iterations, dx, out):
    analytic = implicit_derivative(x, thetas)
    diff = float(np.max(np.abs(dx - analytic)))
    residual = float(np.max(np.abs(f(x, thetas))))
    out(f"{name}: {int(iterations)} Newton iterations, max |f(x*)| = {residual:.1e}")
    out(f"  {'theta':>8} {'x*':>18} {'dx*/dtheta (grad)':>22} {'implicit':>22} {'difference':>11}")
    for t, xi, g, a in zip(thetas, x, dx, analytic):
        out(f"  {t:8.3f} {xi:18.15f} {g:22.16f} {a:22.16f} {abs(g - a):11.1e}")
    out(f"  max difference from the implicit derivative: {diff:.1e}")
    return diff


def run(thetas=(0.1, 0.5, 1.0, 2.0, 10.0), graph="forward", out=print):
    thetas = np.asarray(thetas, dtype=np.float64)
    if graph != "none":
        solve = build("numba", gradient=graph == "gradient")
        what = "x* and dx*/dtheta: the forward loop, then the backward one" if graph == "gradient" else "x*"
        out(f"the compiled graph of {what} (numba backend); a loop's cond and body are indented under it:")
        out(str(solve.graph))
        out("")
    diffs = {}
    for backend in ("numpy", "numba"):
        solve = build(backend)
        diffs[backend] = report(f"graph mode, {backend} backend", thetas, *solve(thetas), out)
    diffs["eager"] = report("eager mode", thetas, *eager_solve(thetas), out)
    return diffs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--theta", type=float, nargs="+", default=[0.1, 0.5, 1.0, 2.0, 10.0],
                        help="the parameters theta > 0 to solve for (default: 0.1 0.5 1 2 10)")
    parser.add_argument("--graph", choices=["forward", "gradient", "none"], default="forward",
                        help="which compiled graph to print: the solver alone (default), the solver with "
                             "its gradient, or none")
    args = parser.parse_args()
    run(args.theta, graph=args.graph)
