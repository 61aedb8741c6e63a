"""Compile statistics: what each pass did and cost, kernels, cache hits, slow paths taken."""


class CompileStats:
    def __init__(self):
        self.passes = []  # dicts: name, nodes_before, nodes_after, seconds
        self.nodes_before = 0
        self.nodes_after = 0
        self.kernels = 0
        self.compile_time = 0.0
        self.backend = None
        self.cache = []  # dicts: kernel, hit (bool), why
        self.slow_paths = []  # human-readable notes on anything not fused/compiled
        self.numpy_ops = {}  # op name -> count of nodes the backend runs with NumPy
        self.kernel_compile_time = 0.0
        self.buffers = 0  # reusable buffers in the memory plan
        self.buffered_values = 0  # intermediates that live in them
        self.plan_cache = None  # numba: loop layouts kept per kernel (size, limit, evictions)

    def record_pass(self, name, before, after, seconds):
        self.passes.append({"name": name, "nodes_before": before, "nodes_after": after, "seconds": seconds})

    @property
    def cache_hits(self):
        return sum(entry["hit"] for entry in self.cache)

    @property
    def cache_misses(self):
        return sum(not entry["hit"] for entry in self.cache)

    def __getitem__(self, key):
        return getattr(self, key)

    def as_dict(self):
        return {
            "backend": self.backend,
            "nodes_before": self.nodes_before,
            "nodes_after": self.nodes_after,
            "passes": [dict(p) for p in self.passes],
            "kernels": self.kernels,
            "compile_time": self.compile_time,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "slow_paths": list(self.slow_paths),
            "numpy_ops": dict(self.numpy_ops),
            "kernel_compile_time": self.kernel_compile_time,
            "buffers": self.buffers,
            "buffered_values": self.buffered_values,
            "plans": self.plan_cache.size if self.plan_cache else 0,
            "plan_limit": self.plan_cache.limit if self.plan_cache else None,
            "plan_evictions": self.plan_cache.evictions if self.plan_cache else 0,
        }

    def __str__(self):
        lines = [
            f"backend {self.backend}: {self.nodes_before} -> {self.nodes_after} nodes, "
            f"{self.kernels} fused kernels, compiled in {self.compile_time * 1e3:.1f} ms",
        ]
        if self.buffered_values:
            lines.append(f"  memory plan: {self.buffered_values} intermediates in {self.buffers} reused buffers")
        if self.plan_cache is not None:
            cache = self.plan_cache
            lines.append(f"  loop layouts: {cache.size} kept (at most {cache.limit} per kernel), {cache.evictions} evicted")
        if self.passes:
            lines.append(f"  {'pass':<22}{'before':>8}{'after':>8}{'ms':>10}")
            for p in self.passes:
                lines.append(
                    f"  {p['name']:<22}{p['nodes_before']:>8}{p['nodes_after']:>8}{p['seconds'] * 1e3:>10.2f}"
                )
        if self.cache:
            lines.append(f"  kernel cache: {self.cache_hits} hits, {self.cache_misses} misses")
            for entry in self.cache:
                if not entry["hit"]:
                    lines.append(f"    miss {entry['kernel']}: {entry['why']}")
        for note in self.slow_paths:
            lines.append(f"  slow path: {note}")
        return "\n".join(lines)

    __repr__ = __str__
