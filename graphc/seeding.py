"""The generator behind gc.manual_seed. Eager mode's rand/randn draw from it, and so does a
graph-mode random node built without a seed (for its seed), so one gc.manual_seed(n) makes both
reproducible. It lives apart from eager mode, which graph building does not import."""
import numpy as np

GENERATOR = [np.random.default_rng()]


def manual_seed(seed):
    """Seed the generator behind rand/randn/randn_like and the seeds of unseeded random nodes."""
    GENERATOR[0] = np.random.default_rng(seed)


def draw_seed():
    """A seed for a random node built without one: 64 bits from the generator."""
    return int(GENERATOR[0].integers(0, 2 ** 64, dtype=np.uint64))
