#!/usr/bin/env python3
"""Side-by-side: faiss-cpu IndexFlatIP top-K search against `falsematch search` on the same data.

Usage (from the repository root, after `cargo build --release`):

    python3 benches/compare_faiss.py [--n 1000000] [--m 1000] [--d 512] [--k 10] [--threads 2]

It installs faiss-cpu and numpy into its own virtual environment (benches/.venv). It then:

1. writes a random gallery and probes (numpy standard normal, float32, fixed seed) as .npy;
2. times faiss IndexFlatIP top-K on L2-normalized copies (inner product = cosine), excluding
   index construction; and faiss's whole process, as a user would run it: a fresh Python that
   loads both .npy files, normalizes them, builds the index, searches and writes the top-K
   (FAISS_WHOLE below);
3. times `falsematch search` in each number format (int8 and int16) with top-K plus counts at
   8 thresholds plus per-group counts (two gallery groups): the search phase as falsematch
   reports it (comparable with faiss's search, which excludes building the index), and the
   whole command (reading, hashing and quantizing the .npy files included);
4. checks every returned candidate against the float cosine, within the format's per-pair
   error bound computed from the data, and the sorted scores against faiss's; prints the
   largest difference seen and the recall of faiss's top-K;
5. prints the times and their ratios (falsematch / faiss), measured in the same run: search
   phase to faiss's search, whole command to faiss's whole process.

The figures move with machine noise: compare ratios from one run, never across runs.
"""

import argparse
import json
import re
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")


# faiss's whole process: what `falsematch search` does end to end (load, normalize, search,
# write the top-K), in a fresh interpreter.
FAISS_WHOLE = """
import json, sys
import numpy as np, faiss
g_path, p_path, k, threads, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
faiss.omp_set_num_threads(threads)
g = np.load(g_path); p = np.load(p_path)
g /= np.linalg.norm(g, axis=1, keepdims=True); p /= np.linalg.norm(p, axis=1, keepdims=True)
index = faiss.IndexFlatIP(g.shape[1]); index.add(g)
scores, ids = index.search(p, k)
with open(out, "w") as f:
    json.dump({"ids": ids.tolist(), "scores": scores.tolist()}, f)
"""


def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if sys.executable != python:
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
            subprocess.run([python, "-m", "pip", "install", "-q", "faiss-cpu==1.15.*", "numpy"], check=True)
        os.execv(python, [python, *sys.argv])


def main():
    ensure_venv()
    import faiss
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--m", type=int, default=1_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="int8,int16", help="falsematch number formats to time, comma-separated")
    parser.add_argument("--synthetic", help="also time `falsematch run` on this scenario (e.g. benches/workloads/throughput-1m-int8.toml)")
    parser.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "falsematch"))
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary}: not found; run `cargo build --release` first")

    rng = np.random.default_rng(20261122)
    with tempfile.TemporaryDirectory() as tmp:
        gallery = rng.standard_normal((args.n, args.d), dtype=np.float32)
        probes = rng.standard_normal((args.m, args.d), dtype=np.float32)
        g_path, p_path = os.path.join(tmp, "g.npy"), os.path.join(tmp, "p.npy")
        np.save(g_path, gallery)
        np.save(p_path, probes)
        groups_path = os.path.join(tmp, "groups.csv")
        with open(groups_path, "w") as f:
            f.write("group\n")
            f.writelines("a\n" if i % 2 == 0 else "b\n" for i in range(args.n))

        faiss.omp_set_num_threads(args.threads)
        gn = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
        pn = probes / np.linalg.norm(probes, axis=1, keepdims=True)
        gn_max, pn_max = np.abs(gn).max(axis=1), np.abs(pn).max(axis=1)
        gn_l1, pn_l1 = np.abs(gn).sum(axis=1), np.abs(pn).sum(axis=1)
        index = faiss.IndexFlatIP(args.d)
        index.add(gn)
        start = time.perf_counter()
        scores, ids = index.search(pn, args.k)
        faiss_secs = time.perf_counter() - start

        del index
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", FAISS_WHOLE, g_path, p_path, str(args.k), str(args.threads),
             os.path.join(tmp, "faiss.json")],
            check=True,
        )
        faiss_whole_secs = time.perf_counter() - start

        thresholds = "0.05,0.075,0.1,0.125,0.15,0.175,0.2,0.25"
        comparisons = args.n * args.m
        print(f"workload: N={args.n:,} M={args.m:,} d={args.d} top-{args.k}, {args.threads} threads")
        print(f"faiss IndexFlatIP search (index built beforehand): {faiss_secs:8.2f} s  ({comparisons / faiss_secs:.3g} comparisons/s)")
        print(f"faiss whole process (load, normalize, index, search, write): {faiss_whole_secs:8.2f} s")
        failed = False
        for precision in args.precision.split(","):
            out = os.path.join(tmp, f"hits-{precision}.json")
            start = time.perf_counter()
            run = subprocess.run(
                [args.binary, "search", "--gallery", g_path, "--probes", p_path, "--gallery-groups", groups_path,
                 "--k", str(args.k), "--thresholds", thresholds, "--threads", str(args.threads),
                 "--precision", precision, "--out", out],
                check=True, capture_output=True, text=True,
            )
            command_secs = time.perf_counter() - start
            match = re.search(r"searching ([0-9.]+) s", run.stderr)
            search_secs = float(match.group(1))
            with open(out) as f:
                results = json.load(f)["results"]
            # Per-pair error bound of the format, from the data (unit vectors a, b):
            # int16: each component moves by at most 0.5/32767, so |error| <= 0.5 (|a|_1 + |b|_1) / 32767 + tiny;
            # int8: each component moves by at most f/2 + 0.5/32767 with f = max_i |x_i| / 127.
            step = 0.5 / 32767.0
            if precision == "int8":
                eg = gn_max.max() / 254.0 + step
                ep = pn_max.max() / 254.0 + step
            else:
                eg = ep = step
            tol = eg * pn_l1.max() + ep * gn_l1.max() + args.d * eg * ep + 1e-6
            beyond, worst, recall = 0, 0.0, 0
            for i, r in enumerate(results):
                got = r["candidates"]
                recall += len({c["gallery_index"] for c in got} & set(ids[i].tolist()))
                for rank, c in enumerate(got):
                    exact = float(pn[i] @ gn[c["gallery_index"]])
                    worst = max(worst, abs(c["score"] - exact))
                    # Sorted lists: the r-th score moves by at most the per-pair bound.
                    if abs(c["score"] - exact) > tol or abs(c["score"] - scores[i][rank]) > 2 * tol:
                        beyond += 1
            failed |= beyond > 0
            print(f"falsematch search --precision {precision} (top-{args.k} + 8 thresholds + 2 groups):")
            print(f"  searching:                     {search_secs:8.2f} s  ({comparisons / search_secs:.3g} comparisons/s)  ratio to faiss {search_secs / faiss_secs:5.2f}")
            print(f"  whole command (reading, hashing and quantizing 2 files, searching, writing): {command_secs:8.2f} s  ratio to faiss's whole process {command_secs / faiss_whole_secs:5.2f}")
            print(f"  scores: largest difference from the float cosine {worst:.2e} (bound {tol:.2e}); {beyond} entries beyond the bound")
            print(f"  recall of faiss's top-{args.k}: {recall / (args.k * len(results)):.4f}")
        if args.synthetic:
            # The full synthetic path (generation plus search) of the same N, M, d, in the same
            # run, against faiss's search on pre-made data.
            start = time.perf_counter()
            subprocess.run(
                [args.binary, "run", args.synthetic, "--quiet", "--threads", str(args.threads),
                 "--out", os.path.join(tmp, "synthetic")],
                check=True,
            )
            synthetic_secs = time.perf_counter() - start
            print(f"falsematch run {os.path.basename(args.synthetic)} (generation + search + estimates + report): "
                  f"{synthetic_secs:8.2f} s  ratio to faiss's search {synthetic_secs / faiss_secs:5.2f}")
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
