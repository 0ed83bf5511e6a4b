#!/usr/bin/env python3
"""An independent implementation of the model's false match rate with look-alikes, in scipy,
written as a fixture that tests/tail.rs compares falsematch's closed form with.

    python3 tests/tail/reference.py        # makes tests/tail/.venv (scipy) on first use

The model (README, "The model"): a comparison of captures a and b of two people scores

    k (A + B c) + s_a s_b c'      k = sqrt(1 - s_a^2) sqrt(1 - s_b^2)
    A = sqrt(rho_a rho_b) u_a.u_b,  B = sqrt((1 - rho_a)(1 - rho_b))

with c' the cosine of two random directions in the noise block (D' dims) and c the
identity-block cosine: with probability 1 - pi that of two random directions in d_eff dims,
with probability pi = lambda^2 / K (the two share a look-alike centre) kappa + (1 - kappa) c''
with c'' in d_eff - 1 dims. The cosine of two random directions in m dims has
(1 + c)/2 ~ Beta((m - 1)/2, (m - 1)/2). FMR(T) = P(score >= T), integrated here with
scipy.integrate.quad over c' (a different route from falsematch's, which integrates over c).
"""
import json
import os
import subprocess
import sys
import venv

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
PINNED = ["numpy==1.26.4", "scipy==1.13.1"]
OUT = os.path.join(HERE, "reference.json")


def ensure_venv():
    python = os.path.join(VENV, "bin", "python")
    if sys.prefix != VENV:
        if not os.path.exists(python):
            venv.create(VENV, with_pip=True)
            subprocess.check_call([python, "-m", "pip", "install", "-q", *PINNED])
        os.execv(python, [python, *sys.argv])


def main():
    from scipy import integrate, stats

    def cos_sf(m, v):
        """P(c >= v) for the cosine of two random directions in m dims."""
        a = (m - 1) / 2
        return stats.beta.sf((1 + v) / 2, a, a) if v > -1 else 1.0

    def fmr(setting):
        d_eff, noise_dim = setting["d_eff"], setting["noise_dim"]
        rho_a, rho_b, cos_u = setting["rho_a"], setting["rho_b"], setting["direction_cosine"]
        s_a, s_b, t = setting["noise_a"], setting["noise_b"], setting["threshold"]
        pi = setting["share"] ** 2 / setting["groups"]
        kappa = setting["closeness"]
        k = (1 - s_a**2) ** 0.5 * (1 - s_b**2) ** 0.5
        a_term = k * (rho_a * rho_b) ** 0.5 * cos_u
        b_term = k * ((1 - rho_a) * (1 - rho_b)) ** 0.5

        def c_tail(v):
            sphere = cos_sf(d_eff, v)
            centre = cos_sf(d_eff - 1, (v - kappa) / (1 - kappa))
            return (1 - pi) * sphere + pi * centre

        noise = s_a * s_b
        an = (noise_dim - 1) / 2
        # E over u = (1 + c')/2 ~ Beta(an, an) of P(c >= (T - A - noise c') / B).
        def integrand(u):
            c_noise = 2 * u - 1
            return stats.beta.pdf(u, an, an) * c_tail((t - a_term - noise * c_noise) / b_term)

        sd = 0.5 / (noise_dim**0.5)
        pts = [0.5 + j * sd for j in range(-12, 13) if 0 < 0.5 + j * sd < 1]
        value, _ = integrate.quad(integrand, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-10)
        return value

    settings = []
    for d_eff, share, groups, kappa, rho, s, t in [
        (16, 0.5, 200, 0.5, 0.1, 0.5, 0.40),
        (16, 0.5, 200, 0.5, 0.1, 0.5, 0.55),
        (13, 0.8, 50, 0.35, 0.047, 0.607, 0.45),
        (13, 0.8, 50, 0.35, 0.047, 0.607, 0.59),
        (24, 0.3, 1000, 0.6, 0.2, 0.4, 0.50),
        (24, 0.3, 1000, 0.6, 0.2, 0.4, 0.75),
        (40, 0.5, 20, 0.25, 0.0, 0.5, 0.45),
    ]:
        setting = {
            "d_eff": d_eff,
            "noise_dim": 512 - 8 - d_eff,
            "rho_a": rho,
            "rho_b": rho,
            "direction_cosine": 1.0,
            "noise_a": s,
            "noise_b": s,
            "share": share,
            "groups": groups,
            "closeness": kappa,
            "threshold": t,
        }
        setting["fmr"] = fmr(setting)
        settings.append(setting)
        print(setting)
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/tail/reference.py (scipy quad)", "settings": settings}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    ensure_venv()
    main()
