#!/usr/bin/env python3
"""Side-by-side: faiss-cpu IndexFlatIP top-K search against `falsematch search` on the same data.

Usage (from the repository root, after `cargo build --release`):

    python3 benches/compare_faiss.py [--n 1000000] [--m 1000] [--d 512] [--k 10] [--threads 2]

It installs faiss-cpu and numpy into its own virtual environment (benches/.venv). It then:

1. writes a random gallery and probes (numpy standard normal, float32, fixed seed) as .npy;
2. times faiss IndexFlatIP top-K on L2-normalized copies (inner product = cosine), excluding
   index construction;
3. times `falsematch search` with top-K plus counts at 8 thresholds plus per-group counts (two
   gallery groups), including reading and quantizing the files;
4. checks that the candidate lists agree up to falsematch's documented score resolution (int16
   quantization moves a score by at most 0.5 sqrt(d) / 32767);
5. prints both times and their ratio (falsematch / faiss), measured in the same run.

The figures move with machine noise: compare ratios from one run, never across runs.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(HERE, ".venv")


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
        index = faiss.IndexFlatIP(args.d)
        index.add(gn)
        start = time.perf_counter()
        scores, ids = index.search(pn, args.k)
        faiss_secs = time.perf_counter() - start

        out = os.path.join(tmp, "hits.json")
        thresholds = "0.05,0.075,0.1,0.125,0.15,0.175,0.2,0.25"
        start = time.perf_counter()
        subprocess.run(
            [args.binary, "search", "--gallery", g_path, "--probes", p_path, "--gallery-groups", groups_path,
             "--k", str(args.k), "--thresholds", thresholds, "--threads", str(args.threads), "--quiet", "--out", out],
            check=True,
        )
        falsematch_secs = time.perf_counter() - start
        with open(out) as f:
            results = json.load(f)["results"]

        tol = 0.5 * np.sqrt(args.d) / 32767.0
        mismatches = 0
        for i, r in enumerate(results):
            got = [(c["gallery_index"], c["score"]) for c in r["candidates"]]
            for rank, (gid, gscore) in enumerate(got):
                if abs(gscore - scores[i][rank]) > 2 * tol:
                    mismatches += 1
                elif gid != ids[i][rank]:
                    # A different id is acceptable only within the score resolution.
                    exact = float(pn[i] @ gn[gid])
                    if abs(exact - scores[i][rank]) > 2 * tol:
                        mismatches += 1
        comparisons = args.n * args.m
        print(f"workload: N={args.n:,} M={args.m:,} d={args.d} top-{args.k}, {args.threads} threads")
        print(f"faiss IndexFlatIP search:        {faiss_secs:8.2f} s  ({comparisons / faiss_secs:.3g} comparisons/s)")
        print(f"falsematch search (+8 thresholds, 2 groups, file reading): {falsematch_secs:8.2f} s  ({comparisons / falsematch_secs:.3g} comparisons/s)")
        print(f"ratio falsematch / faiss:        {falsematch_secs / faiss_secs:8.2f}")
        print(f"candidate lists: {mismatches} entries differ beyond the score resolution ({2 * tol:.2e})")
        sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
