"""The numpy backend: the reference interpreter (ir.interpreter) on every call, with nan_check's
observer when asked. Every other execution path is checked against it."""
from graphc.ir.interpreter import evaluate

from .base import Backend, Executable
from .nan_check import check_step


class Interpreted(Executable):
    def __init__(self, graph, nan_check):
        self.graph = graph
        self.observe = check_step if nan_check else None

    def run(self, feeds, state):
        return evaluate(self.graph, feeds, state, self.observe)


class NumpyBackend(Backend):
    name = "numpy"

    def prepare(self, graph, stats, nan_check, max_plans):
        """Nothing to compile (and no loop layouts to keep): the interpreter walks the graph on
        each call."""
        return Interpreted(graph, nan_check)
