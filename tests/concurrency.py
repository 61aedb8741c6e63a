"""Calling one compiled function from several threads at once (shared by the tests of loops)."""
import threading

import numpy as np


def threads_with_wrong_results(f, feeds, expected, repeats):
    """Run f(*feeds[k]) `repeats` times in thread k, one thread per feed; the k of every call
    whose results differed from expected[k]."""
    wrong = []

    def worker(k):
        for _ in range(repeats):
            if not all(np.array_equal(got, want) for got, want in zip(f(*feeds[k]), expected[k])):
                wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(feeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong
