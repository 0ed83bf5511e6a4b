#!/usr/bin/env python3
"""Reference metrics for falsematch's score-file import, computed by bob.measure, pyeer and
scikit-learn, written as fixtures under tests/data/parity/.

    python3 tests/parity/make_fixtures.py        # makes tests/parity/.venv on first use

The script installs its pinned libraries into its own virtual environment, generates several
score sets (continuous scores with probe groups, heavy ties, a separable set with zero errors
at some thresholds), writes each as falsematch's CSV score file (plus bob's 4- and 5-column
formats and a NIST-style candidate list for one of them), reads every score back from the
file's text and computes the reference values. tests/parity.rs compares falsematch with them.
"""
import json
import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "tests", "data", "parity")
VENV = os.path.join(HERE, ".venv")
PINNED = ["numpy==1.26.4", "scikit-learn==1.9.1", "pyeer==0.5.6", "bob.measure==6.1.1"]

K = 5
TARGETS = [0.5, 0.2, 0.1, 0.05, 0.01, 0.001]


def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if sys.prefix != VENV:
        if not os.path.exists(python):
            venv.create(VENV, with_pip=True)
            subprocess.check_call([python, "-m", "pip", "install", "-q", *PINNED])
        os.execv(python, [python, *sys.argv])


def make_sets(np):
    """Score sets as rows (probe, gallery, score text, mated, group)."""
    rng = np.random.default_rng(20261122)
    sets = {}

    def matrix(name, n_gallery, probes, genuine, impostor, decimals):
        rows = []
        gallery = [f"g{j:03d}" for j in range(n_gallery)]
        for p, (mate, group) in enumerate(probes):
            pid = f"p{p:03d}"
            for j, gid in enumerate(gallery):
                mated = mate == j
                s = genuine(group) if mated else impostor(group)
                rows.append((pid, gid, f"{s:.{decimals}f}", int(mated), group))
        sets[name] = rows

    # Continuous scores, two probe groups with different impostor and genuine distributions.
    probes = [(p % 40 if p < 45 else None, "F" if p % 3 == 0 else "M") for p in range(60)]
    matrix(
        "continuous",
        40,
        probes,
        lambda g: rng.normal(0.55 if g == "F" else 0.65, 0.15),
        lambda g: rng.normal(0.15 if g == "F" else 0.08, 0.12),
        6,
    )
    # Heavy ties: one decimal.
    probes = [(p % 20 if p < 24 else None, "old" if p % 2 else "young") for p in range(32)]
    matrix(
        "ties",
        20,
        probes,
        lambda g: rng.normal(0.5, 0.2),
        lambda g: rng.normal(0.2, 0.15),
        1,
    )
    # Separable: every genuine score above every impostor score.
    probes = [(p % 15 if p < 18 else None, "all") for p in range(24)]
    matrix(
        "separable",
        15,
        probes,
        lambda g: rng.uniform(0.7, 0.9),
        lambda g: rng.uniform(0.0, 0.5),
        4,
    )
    return sets


def write_csv(path, rows, with_group):
    with open(path, "w") as f:
        f.write("probe_id,gallery_id,score,mated" + (",group" if with_group else "") + "\n")
        for p, g, s, m, grp in rows:
            f.write(f"{p},{g},{s},{m}" + (f",{grp}" if with_group else "") + "\n")


def subject_of_probe(rows):
    """Bob formats name subjects: a mated probe's subject is its mate's, others are their own."""
    subj = {}
    for p, g, _, m, _ in rows:
        if m:
            subj[p] = g
    for p, _, _, _, _ in rows:
        subj.setdefault(p, "s" + p)
    return subj


def write_bob(path4, path5, rows):
    subj = subject_of_probe(rows)
    with open(path4, "w") as f4, open(path5, "w") as f5:
        for p, g, s, _, _ in rows:
            f4.write(f"{g} {subj[p]} {p} {s}\n")
            f5.write(f"{g} {g}_model {subj[p]} {p} {s}\n")


def write_candidates(path, rows, length):
    by_probe = {}
    for p, g, s, m, grp in rows:
        by_probe.setdefault(p, []).append((float(s), g, s, m, grp))
    with open(path, "w") as f:
        f.write("probe_id,rank,gallery_id,score,enrolled,mated,group\n")
        for p in sorted(by_probe):
            cands = by_probe[p]
            enrolled = int(any(c[3] for c in cands))
            # Descending score, ties by gallery id (any fixed order works: ranks are by score).
            cands.sort(key=lambda c: (-c[0], c[1]))
            for r, (_, g, s, m, grp) in enumerate(cands[:length]):
                f.write(f"{p},{r + 1},{g},{s},{enrolled},{m},{grp}\n")


def thresholds_of(np, scores):
    """A grid plus exact data values (ties at the threshold matter)."""
    grid = [round(x, 2) for x in np.linspace(-0.2, 1.0, 13)]
    data = sorted(set(scores))
    picks = [data[i] for i in (0, len(data) // 4, len(data) // 2, 3 * len(data) // 4, -1)]
    return sorted(set(grid + picks))


def verification(np, bob, pyeer_stats, roc_curve, neg, pos, thresholds):
    neg = np.asarray(neg, dtype=np.float64)
    pos = np.asarray(pos, dtype=np.float64)
    out = {"impostor": len(neg), "genuine": len(pos)}
    out["at_thresholds"] = [
        {"threshold": t, "fmr": float(a), "fnmr": float(b)}
        for t in thresholds
        for a, b in [bob.farfrr(neg, pos, t)]
    ]
    targets = []
    for target in TARGETS:
        t = float(bob.far_threshold(neg, pos, target))
        a, b = bob.farfrr(neg, pos, t)
        targets.append({"target": target, "threshold": t, "fmr": float(a), "fnmr": float(b)})
    out["target_fmr"] = targets
    eer, far, frr = bob.eer(neg, pos, also_farfrr=True)
    out["eer_bob"] = {
        "eer": float(eer),
        "fmr": float(far),
        "fnmr": float(frr),
        "threshold": float(bob.eer_threshold(neg, pos)),
    }
    stats = pyeer_stats.get_eer_stats(list(pos), list(neg))
    out["eer_pyeer"] = {
        "eer": float(stats.eer),
        "eer_low": float(stats.eer_low),
        "eer_high": float(stats.eer_high),
        "threshold": float(stats.eer_th),
    }
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    s = np.concatenate([pos, neg])
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    out["sklearn_roc"] = [
        {"threshold": float(t), "fmr": float(a), "fnmr": float(1 - b)}
        for a, b, t in zip(fpr, tpr, thr)
        if np.isfinite(t)
    ]
    return out


def identification(np, bob, rows, thresholds):
    per = {}
    for p, _, s, m, _ in rows:
        neg, pos = per.setdefault(p, ([], []))
        (pos if m else neg).append(float(s))
    cmc_scores = [(np.array(n), np.array(p) if p else None) for n, p in per.values()]
    mated_only = [c for c in cmc_scores if c[1] is not None]
    return {
        "probes": len(per),
        "mated": len(mated_only),
        "k": K,
        "at_thresholds": [
            {
                "threshold": t,
                "fpir": float(bob.false_alarm_rate(cmc_scores, t)),
                "fnir_rank_1": 1.0 - float(bob.detection_identification_rate(cmc_scores, t, 1)),
                "fnir_rank_k": 1.0 - float(bob.detection_identification_rate(cmc_scores, t, K)),
            }
            for t in thresholds
        ],
        "cmc": [float(bob.recognition_rate(mated_only, None, r)) for r in range(1, K + 1)],
    }


def main():
    ensure_venv()
    import numpy as np
    import bob.measure as bob
    from pyeer import eer_info as pyeer_stats
    from sklearn.metrics import roc_curve
    import bob.measure as _b, pyeer, sklearn

    os.makedirs(OUT, exist_ok=True)
    sets = make_sets(np)
    reference = {
        "generated_by": "tests/parity/make_fixtures.py",
        "libraries": {
            "bob.measure": _b.__version__ if hasattr(_b, "__version__") else "6.1.1",
            "pyeer": getattr(pyeer, "__version__", "0.5.6"),
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
        },
        "k": K,
        "sets": {},
    }
    for name, rows in sets.items():
        with_group = len({r[4] for r in rows}) > 1
        write_csv(os.path.join(OUT, f"{name}.csv"), rows, with_group)
        # Read every score back from the written text: the reference sees what falsematch sees.
        rows = [(p, g, repr(float(s)), m, grp) for p, g, s, m, grp in rows]
        scores = [float(r[2]) for r in rows]
        thresholds = thresholds_of(np, scores)
        slices = {"all": rows}
        if with_group:
            for grp in sorted({r[4] for r in rows}):
                slices[grp] = [r for r in rows if r[4] == grp]
        entry = {"thresholds": thresholds, "slices": {}}
        for slice_name, srows in slices.items():
            neg = [float(r[2]) for r in srows if not r[3]]
            pos = [float(r[2]) for r in srows if r[3]]
            entry["slices"][slice_name] = {
                "verification": verification(
                    np, bob, pyeer_stats, roc_curve, neg, pos, thresholds
                ),
                "identification": identification(np, bob, srows, thresholds),
            }
        reference["sets"][name] = entry
        if name == "continuous":
            write_bob(
                os.path.join(OUT, "continuous.bob4"), os.path.join(OUT, "continuous.bob5"), rows
            )
            write_candidates(os.path.join(OUT, "continuous-candidates.csv"), rows, 10)
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
