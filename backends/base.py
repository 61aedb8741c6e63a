"""The backend contract: what `gc.compile` asks of an execution backend.

A backend turns an optimized graph into an `Executable`. Its own lowering passes (fusion for the
numba backend) run first, after the shared pipeline, even with optimize=False, because they are
how it executes. A new backend (numba.cuda, say) implements these two classes: its lowering
table and executor are its own business; passes and ops need no edits.
"""


class Executable:
    """A prepared graph. `run(feeds, state)` takes the inputs in graph.inputs order and the
    Variables' values in graph.variables order (a snapshot the caller took) and returns
    (outputs, update values). It must be safe to call from several threads at once."""

    # Per output: True where the array is new and nobody else holds it (so the caller may hand it
    # out without a defensive copy); None when the backend does not know.
    fresh_outputs = None
    # Generated code shown by CompiledFunction.source: the driver, and each kernel's source.
    source = "# reference interpreter: no generated code"
    kernel_sources = ""

    def run(self, feeds, state):
        raise NotImplementedError


class Backend:
    name = None
    # (name, Graph -> Graph) passes run after the shared pipeline, recorded in stats like it.
    passes = ()

    def prepare(self, graph, stats, nan_check, max_plans):
        """The Executable for `graph`. Fills in what it knows of `stats` (kernels, compile time,
        slow paths). nan_check: check every step's result (backends.nan_check). max_plans: the
        bound on loop layouts kept per kernel, where the backend keeps any."""
        raise NotImplementedError
