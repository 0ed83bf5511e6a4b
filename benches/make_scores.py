#!/usr/bin/env python3
"""A large synthetic score file for measuring `falsematch evaluate --scores` in bounded memory.

    python3 benches/make_scores.py PROBES GALLERY OUT.csv    # PROBES x GALLERY rows

Standard library only. Probe i (of the first half) is mated with gallery entry i % GALLERY;
genuine scores ~ N(0.6, 0.1), impostor scores ~ N(0.1, 0.1), six decimals; rows are written
probe by probe. Seeded, so the same arguments give the same bytes.
"""
import random
import sys


def main():
    probes, gallery, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(20261122)
    gauss = rng.gauss
    ids = [f"g{j}" for j in range(gallery)]
    with open(out, "w", buffering=1 << 22) as f:
        f.write("probe_id,gallery_id,score,mated\n")
        for p in range(probes):
            mate = p % gallery if p < probes // 2 else -1
            pid = f"p{p}"
            f.write(
                "".join(
                    f"{pid},{ids[j]},{gauss(0.6, 0.1) if j == mate else gauss(0.1, 0.1):.6f},{int(j == mate)}\n"
                    for j in range(gallery)
                )
            )


if __name__ == "__main__":
    main()
