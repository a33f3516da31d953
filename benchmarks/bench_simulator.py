"""Simulator throughput: profiles per second, against a scipy reference and a Python loop.

What it measures (float32, 32 time points over 0-720 h, ``validate=False``,
``torch.inference_mode``; median of repeats after a warm-up):

1. full-model release profiles per second for batch sizes 1 ... 65536 (polymer
   particles under the multi-segment ``tumour`` medium and under ``sink``; liposomes),
   on CPU and on CUDA when available;
2. the same physics through the slow scipy ``solve_ivp`` method-of-lines reference
   (diffusion PDE with the degrading diffusivity ``D_k·exp(K(t))``), per profile, and
   the ratio to the batched simulator at batch 4096, measured in this run;
3. a Python loop of single-formulation calls against one batched call (ratio);
4. forward + backward profiles per second (gradients to every design parameter);
5. peak resident memory of a batch-65536 call (in a fresh subprocess).

Run: ``python benchmarks/bench_simulator.py [--quick] [--device cpu|cuda|auto] [--out DIR]``.
Writes ``simulator.json`` and ``simulator.md`` to ``DIR`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nanoenv.kinetics import (  # noqa: E402
    Drug,
    Formulation,
    ReleaseConditions,
    mechanism_parameters,
    simulate_release,
)
from tests.reference_solver import scipy_sphere_release  # noqa: E402

T_POINTS = 32
GOAL_PROFILES_PER_S = 500_000
GOAL_SCIPY_RATIO = 10_000


def timed(
    fn: Callable[[], object], device: torch.device, min_seconds: float, repeats: int
) -> float:
    """Median seconds per call of ``fn`` (warm-up, then repeats of ≥ ``min_seconds`` loops)."""
    fn()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    results = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        results.append(elapsed / calls)
    return statistics.median(results)


def designs(n: int, carrier: str, device: torch.device) -> Formulation:
    return Formulation.sample(
        n,
        generator=torch.Generator().manual_seed(0),
        carrier=carrier,
        device=device,
        dtype=torch.float32,
    )


def throughput(device: torch.device, sizes: list[int], quick: bool) -> list[dict]:
    times = torch.linspace(0.0, 720.0, T_POINTS, device=device)
    drug = Drug.preset("doxorubicin")
    rows = []
    cases = [("polymer", "tumour"), ("polymer", "sink"), ("liposome", "tumour")]
    for carrier, medium in cases:
        conditions = ReleaseConditions.preset(medium)
        for n in sizes if carrier == "polymer" else [4096]:
            f = designs(n, carrier, device)
            with torch.inference_mode():
                sec = timed(
                    lambda f=f, c=conditions: simulate_release(f, times, c, drug, validate=False),
                    device,
                    0.2 if quick else 0.5,
                    3,
                )
            rows.append(
                {
                    "device": device.type,
                    "carrier": carrier,
                    "medium": medium,
                    "batch": n,
                    "seconds_per_call": sec,
                    "profiles_per_s": n / sec,
                }
            )
            print(f"{device.type:5s} {carrier:8s} {medium:7s} B={n:6d} {n / sec:14,.0f} profiles/s")
    return rows


def scipy_reference(n: int) -> float:
    """Seconds per profile of the scipy method-of-lines reference (same mechanism parameters)."""
    f = designs(n, "polymer", torch.device("cpu")).to(dtype=torch.float64)
    m = mechanism_parameters(f, ReleaseConditions.tumour(), Drug.preset("doxorubicin"))
    times = np.linspace(0.0, 720.0, T_POINTS)
    starts = m.start_h[0].numpy()
    start = time.perf_counter()
    for i in range(n):
        d, k = m.diffusivity_nm2_h[i].numpy(), m.hydrolysis_per_h[i].numpy()
        lengths = np.diff(starts, append=np.inf)

        def diffusivity(t: float, d=d, k=k, lengths=lengths) -> float:
            j = np.searchsorted(starts, t, side="right") - 1
            log_drop = float(np.sum(k[:j] * lengths[:j]) + k[j] * (t - starts[j]))
            return float(d[j] * np.exp(min(log_drop, 60.0)))

        scipy_sphere_release(
            times, float(m.radius_nm[i]), diffusivity, n_cells=100, rtol=1e-6, atol=1e-9
        )
    return (time.perf_counter() - start) / n


def loop_vs_batch(n: int, quick: bool) -> dict:
    times = torch.linspace(0.0, 720.0, T_POINTS)
    f = designs(n, "polymer", torch.device("cpu"))
    conditions, drug = ReleaseConditions.tumour(), Drug.preset("doxorubicin")
    singles = [f[i] for i in range(n)]
    with torch.inference_mode():
        loop = timed(
            lambda: [simulate_release(s, times, conditions, drug, validate=False) for s in singles],
            torch.device("cpu"),
            0.2 if quick else 0.5,
            3,
        )
        batch = timed(
            lambda: simulate_release(f, times, conditions, drug, validate=False),
            torch.device("cpu"),
            0.2 if quick else 0.5,
            3,
        )
    return {"batch": n, "loop_seconds": loop, "batched_seconds": batch, "ratio": loop / batch}


def gradient_throughput(device: torch.device, n: int, quick: bool) -> float:
    times = torch.linspace(0.0, 720.0, T_POINTS, device=device)
    f = designs(n, "polymer", device)
    conditions, drug = ReleaseConditions.tumour(), Drug.preset("doxorubicin")

    def step() -> None:
        values = f.values.clone().requires_grad_(True)
        curve = simulate_release(
            Formulation(values, f.carrier, validate=False), times, conditions, drug, validate=False
        )
        curve.sum().backward()

    return n / timed(step, device, 0.2 if quick else 0.5, 3)


_MEMORY_PROBE = """
import sys, torch
sys.path.insert(0, {root!r})
from nanoenv.kinetics import Formulation, ReleaseConditions, simulate_release

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

n = {n}
f = Formulation.sample(n, generator=torch.Generator().manual_seed(0))
t = torch.linspace(0, 720, {t})
c = ReleaseConditions.tumour()
simulate_release(f[:8], t, c, validate=False)
open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS counter (Linux)
before = rss("VmRSS:")
with torch.inference_mode():
    simulate_release(f, t, c, validate=False)
print(rss("VmHWM:") - before)
"""


def peak_memory_bytes(n: int) -> int:
    """Increase of peak RSS (bytes) during one batch-``n`` call, in a fresh interpreter."""
    code = _MEMORY_PROBE.format(root=str(ROOT), n=n, t=T_POINTS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as fh:
        fh.write(text)
    os.replace(fh.name, path)


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def markdown(result: dict) -> str:
    lines = [
        "# Simulator benchmark",
        "",
        f"Machine: {result['machine']}",
        "",
        "| device | carrier | medium | batch | profiles/s |",
        "|---|---|---|---:|---:|",
    ]
    for r in result["throughput"]:
        lines.append(
            f"| {r['device']} | {r['carrier']} | {r['medium']} | {r['batch']} | "
            f"{r['profiles_per_s']:,.0f} |"
        )
    at4096 = result["cpu_profiles_per_s_4096"]
    lines += [
        "",
        f"* CPU, polymer, tumour medium, batch 4096: **{at4096:,.0f} profiles/s** "
        f"(goal ≥ {GOAL_PROFILES_PER_S:,}).",
        "* scipy `solve_ivp` method-of-lines reference: "
        f"{result['scipy_seconds_per_profile']:.3f} s "
        f"per profile; batched simulator is **{result['scipy_ratio']:,.0f}×** faster per profile "
        f"(goal ≥ {GOAL_SCIPY_RATIO:,}×).",
        f"* Python loop over {result['loop']['batch']} single formulations vs one batched call: "
        f"**{result['loop']['ratio']:,.0f}×**.",
        f"* Forward + backward (gradients to all 16 parameters), batch 4096: "
        f"{result['gradient_profiles_per_s']:,.0f} profiles/s.",
        "* Peak RSS increase of one batch-65536 call: "
        f"{result['peak_memory_bytes'] / 2**20:,.0f} MiB "
        f"({result['peak_memory_bytes'] / 65536:,.0f} bytes per profile).",
        "",
        "How measured: float32, 32 time points (0-720 h), `validate=False`, inference mode; "
        "median over 3 repeats of loops lasting ≥ 0.5 s after a warm-up call. The scipy "
        "reference solves the radial diffusion PDE (100 graded finite-volume shells, BDF, "
        "rtol 1e-6) with the same mechanism parameters; ratios come from the same run. "
        "`python benchmarks/bench_simulator.py` reproduces this file.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter run (< 1 min)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    sizes = [1, 16, 256, 4096] if args.quick else [1, 16, 256, 4096, 65536]
    devices = [torch.device("cpu")]
    if args.device in ("cuda", "auto") and torch.cuda.is_available():
        devices.append(torch.device("cuda"))
    elif args.device == "cuda":
        print("CUDA not available: CPU only")
    rows = []
    for device in devices:
        rows += throughput(device, sizes, args.quick)
    cpu4096 = next(
        r
        for r in rows
        if r["device"] == "cpu"
        and r["batch"] == 4096
        and r["medium"] == "tumour"
        and r["carrier"] == "polymer"
    )
    scipy_sec = scipy_reference(2 if args.quick else 5)
    result = {
        "machine": machine(),
        "throughput": rows,
        "cpu_profiles_per_s_4096": cpu4096["profiles_per_s"],
        "scipy_seconds_per_profile": scipy_sec,
        "scipy_ratio": scipy_sec * cpu4096["profiles_per_s"],
        "loop": loop_vs_batch(256, args.quick),
        "gradient_profiles_per_s": gradient_throughput(torch.device("cpu"), 4096, args.quick),
        "peak_memory_bytes": peak_memory_bytes(4096 if args.quick else 65536),
        "cuda": "available" if len(devices) > 1 else "not available",
    }
    print(markdown(result))
    out = Path(args.out)
    name = "simulator_quick" if args.quick else "simulator"
    write_atomic(out / f"{name}.json", json.dumps(result, indent=2))
    write_atomic(out / f"{name}.md", markdown(result))
    return result


if __name__ == "__main__":
    main()
