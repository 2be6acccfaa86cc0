"""Forward on a dask.array batch against the numpy forward of the same batch, in one run (issue 13).

    PYTHONPATH=$PWD python benchmarks/dask_forward.py

deep(1024, 8, 64), batch 2048 in 8 chunks of 256, log=True; medians of 3. The lazy result must equal numpy.
"""
import os
import time

import dask
import dask.array as da
import numpy as np

import tnconv as tc

net = tc.deep(1024, 8, 64, seed=0)
rng = np.random.default_rng(0)
X = rng.standard_normal((2048, 1024, 8))
def med(f, r=3):
    ts=[]
    for _ in range(r):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts)//2]
t_np = med(lambda: net.forward(X, log=True))
D = da.from_array(X, chunks=(256, 1024, 8))
out = net.forward(D, log=True)
ok = np.array_equal(np.asarray(out[1].compute(scheduler="threads")), net.forward(X, log=True)[1])
t_thr = med(lambda: dask.compute(*net.forward(D, log=True), scheduler="threads"))
t_syn = med(lambda: dask.compute(*net.forward(D, log=True), scheduler="synchronous"))
print(f"load {os.getloadavg()[0]:.1f}; equal to numpy: {ok}")
print("| run | time (s) | ratio to numpy |\n|---|---|---|")
rows = [("numpy forward (the engine's own 2 threads)", t_np), ("dask array, 8 chunks, threaded scheduler", t_thr),
        ("dask array, 8 chunks, synchronous", t_syn)]
for n, t in rows:
    print(f"| {n} | {t:.3f} | {t/t_np:.2f}x |")
