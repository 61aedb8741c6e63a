"""The `graphc` command line."""
import argparse
import sys


def _demo(args):
    from .demo import run

    result = run(steps=args.steps)
    return 0 if result["test_accuracy"] > 0.5 else 1


def _inspect(args):
    import graphc as gc

    from .demo import init_params, model

    x = gc.placeholder((None, 2), "float64", name="x")
    y = gc.placeholder((None,), "int64", name="y")
    params = [gc.Variable(v, name=n) for v, n in zip(init_params([2, 16, 3]), ["W1", "b1", "W2", "b2"])]
    loss = gc.cross_entropy(model(params, x), y)
    grads = gc.grad(loss, params)
    step = gc.compile([x, y], loss, updates={p: p - 0.1 * g for p, g in zip(params, grads)},
                      backend=args.backend, optimize=not args.no_optimize)
    if args.unoptimized:
        print(gc.debugprint([loss] + grads))
    else:
        print(step.graph)
        print()
        print(step.stats)
    if args.dot:
        with open(args.dot, "w") as f:
            f.write(step.graph.to_dot())
        print(f"\nwrote Graphviz DOT to {args.dot} (render: dot -Tsvg {args.dot} -o graph.svg)")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="graphc", description="graphc: a static-graph tensor compiler with a numba JIT and an eager mode."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="build, optimize, compile and train a small model; compare with eager mode")
    demo.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    demo.set_defaults(func=_demo)
    inspect = commands.add_parser("inspect", help="print an example training step's optimized graph (and write DOT)")
    inspect.add_argument("--dot", metavar="FILE", help="also write the optimized graph as Graphviz DOT to FILE")
    inspect.add_argument("--backend", default="numba", choices=["numba", "numpy"])
    inspect.add_argument("--no-optimize", action="store_true", help="compile without the rewrite passes")
    inspect.add_argument("--unoptimized", action="store_true", help="print the graph as built, before any pass")
    inspect.set_defaults(func=_inspect)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
