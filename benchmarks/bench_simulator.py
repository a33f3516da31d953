"""Simulator throughput: profiles per second, against a scipy reference and a Python loop.

What it measures (float32, 32 time points over 0-720 h, ``validate=False``, under
``torch.inference_mode``; every timing is the median of repeats, each repeat calling
the function until ≥ ``min_seconds`` have passed, after a warm-up; CUDA is
synchronised before the clock is read):

1. full-model release profiles per second of :func:`simulate_release` for batch sizes
   1 … 65536: polymer particles under the three-segment ``tumour`` medium (exercising
   the multi-segment time change) and under ``sink``, plus liposomes at batch 4096; on
   CPU, and on CUDA when available (recorded as "not available" otherwise);
2. the same physics solved numerically by the scipy ``solve_ivp`` method-of-lines
   reference (:func:`tests.reference_solver.scipy_sphere_release`) for a few sampled
   polymer designs: their mechanism parameters give ``D(t) = D_k·exp(K(t))`` with
   ``K(t) = ∫k_h dt``; seconds per profile, its agreement with the closed form, and
   the ratio to the batch-4096 simulator measured in this run;
3. a Python loop of batch-1 calls against one batched call at 256 and 4096 (ratios);
4. peak memory of one batch-65536 call: increase of peak RSS (``VmHWM``) in a fresh
   subprocess on CPU, ``torch.cuda.max_memory_allocated`` on CUDA; bytes per profile;
5. forward + backward profiles per second (gradients to ``formulation.values``).

Run from the repository root::

    python benchmarks/bench_simulator.py [--quick] [--device cpu|cuda|auto] [--out DIR]
                                         [--threads N]

``--quick`` (< 1 min) writes ``simulator_quick.{json,md}``, a full run (a few minutes
on 2 cores) ``simulator.{json,md}``, to ``DIR`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine_info import cpu_model  # noqa: E402
from nanoenv.files import atomic_write  # noqa: E402
from nanoenv.kinetics import (  # noqa: E402
    Drug,
    Formulation,
    ReleaseConditions,
    mechanism_parameters,
    simulate_release,
)
from nanoenv.kinetics.mechanisms import fickian_sphere_fraction  # noqa: E402
from nanoenv.kinetics.time_change import (  # noqa: E402
    MAX_EXPONENT,
    integrate_piecewise_exponential,
)
from tests.reference_solver import scipy_sphere_release  # noqa: E402

T_POINTS = 32
T_END_H = 720.0
DRUG = "doxorubicin"
SEED = 0
BATCH_SIZES = (1, 16, 256, 4096, 65536)
REFERENCE_BATCH = 4096
MEMORY_BATCH = 65536
LOOP_CALLS = 256
SCIPY_CELLS = 200
SCIPY_RTOL = 1e-6
SCIPY_ATOL = 1e-9
GOAL_PROFILES_PER_S = 500_000
GOAL_SCIPY_RATIO = 10_000

Row = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """Run-length knobs: ``quick`` shortens every measurement."""

    quick: bool

    @property
    def min_seconds(self) -> float:
        return 0.15 if self.quick else 0.5

    @property
    def repeats(self) -> int:
        return 3 if self.quick else 5

    @property
    def scipy_designs(self) -> int:
        return 2 if self.quick else 5

    @property
    def memory_runs(self) -> int:
        return 1 if self.quick else 3


# -- helpers -------------------------------------------------------------------------------
def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for queued work on ``device`` (a no-op on CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def time_call(
    fn: Callable[[], object], device: torch.device, settings: Settings, warmup: int = 2
) -> dict[str, float]:
    """Seconds per call of ``fn``: median over repeats of ≥ ``min_seconds`` loops.

    :returns: ``{"seconds": median, "min": fastest repeat, "max": slowest repeat}``.
    """
    sync = synchronizer(device)
    for _ in range(warmup):
        fn()
    sync()
    per_call = []
    for _ in range(settings.repeats):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= settings.min_seconds:
                break
        per_call.append(elapsed / calls)
    return {"seconds": statistics.median(per_call), "min": min(per_call), "max": max(per_call)}


def cpu_seconds() -> tuple[float, float] | None:
    """``(busy CPU-seconds of the whole machine, CPU-seconds of this process and its
    children)``, from ``/proc/stat`` and :func:`os.times`; ``None`` where unreadable."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def other_load(before: tuple[float, float] | None, wall_s: float) -> float | None:
    """Mean number of cores kept busy by *other* processes since ``before``."""
    after = cpu_seconds()
    if before is None or after is None or wall_s <= 0:
        return None
    return max(0.0, (after[0] - before[0]) - (after[1] - before[1])) / wall_s


#: Device shapes measured besides monodisperse spheres (at batch REFERENCE_BATCH, tumour
#: medium): name -> parameters held fixed. Every other row is a monodisperse sphere.
SHAPES: dict[str, dict[str, float | str]] = {
    "sphere": {"geometry": "sphere", "pdi": 0.0},
    "cylinder": {"geometry": "cylinder", "aspect_ratio": 3.0, "pdi": 0.0},
    "slab": {"geometry": "slab", "pdi": 0.0},
    "sphere, pdi 0.3": {"geometry": "sphere", "pdi": 0.3},
}


def designs(
    n: int,
    device: torch.device,
    carrier: str = "polymer",
    dtype: torch.dtype = torch.float32,
    shape: str = "sphere",
) -> Formulation:
    """``n`` designs drawn from :meth:`Formulation.sample` (full bounds, fixed seed), of one
    :data:`SHAPES` entry (default: monodisperse spheres)."""
    fixed = dict(SHAPES[shape])
    if carrier == "liposome":
        fixed.pop("geometry", None)
        fixed.pop("aspect_ratio", None)
    return Formulation.sample(
        n,
        generator=torch.Generator().manual_seed(SEED),
        carrier=carrier,
        fixed=fixed,
        device=device,
        dtype=dtype,
    )


def time_grid(device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.linspace(0.0, T_END_H, T_POINTS, device=device, dtype=dtype)


def forward_fn(f: Formulation, medium: str) -> Callable[[], torch.Tensor]:
    """A no-argument call of the simulator on ``f`` (the unit that is timed)."""
    times = time_grid(f.device)
    conditions, drug = ReleaseConditions.preset(medium), Drug.preset(DRUG)
    return lambda: simulate_release(f, times, conditions, drug, validate=False)


def find_row(rows: Sequence[Row], **match: object) -> Row | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


# -- 1. throughput -------------------------------------------------------------------------
def throughput(device: torch.device, sizes: Sequence[int], settings: Settings) -> list[Row]:
    """Forward profiles per second for each (carrier, medium, batch) case on ``device``."""
    cases = [("polymer", "tumour", sizes, "sphere"), ("polymer", "sink", sizes, "sphere")]
    cases.append(("liposome", "tumour", [REFERENCE_BATCH], "sphere"))
    cases += [
        ("polymer", "tumour", [REFERENCE_BATCH], shape) for shape in SHAPES if shape != "sphere"
    ]
    cases.append(("liposome", "tumour", [REFERENCE_BATCH], "sphere, pdi 0.3"))
    rows = []
    for carrier, medium, batches, shape in cases:
        for n in batches:
            call = forward_fn(designs(n, device, carrier, shape=shape), medium)
            with torch.inference_mode():
                t = time_call(call, device, settings)
            row = {
                "device": device.type,
                "carrier": carrier,
                "shape": shape,
                "medium": medium,
                "batch": n,
                "seconds_per_call": t["seconds"],
                "seconds_per_call_min": t["min"],
                "seconds_per_call_max": t["max"],
                "profiles_per_s": n / t["seconds"],
                "us_per_profile": 1e6 * t["seconds"] / n,
            }
            rows.append(row)
            print(
                f"  {device.type:4s} {carrier:8s} {shape:15s} {medium:6s} B={n:<6d} "
                f"{row['profiles_per_s']:>14,.0f} profiles/s  "
                f"({1e3 * t['seconds']:.3f} ms/call)"
            )
    return rows


# -- 2. scipy reference --------------------------------------------------------------------
def diffusivity_function(
    start_h: np.ndarray, diffusivity: np.ndarray, hydrolysis: np.ndarray
) -> Callable[[float], float]:
    """``D(t) = D_k·exp(K(t))`` with ``K(t) = ∫₀ᵗ k_h ds`` piecewise linear (nm²/h).

    The exponent is capped at the simulator's ``MAX_EXPONENT`` like the closed form.
    """
    k_start = np.concatenate([[0.0], np.cumsum(hydrolysis[:-1] * np.diff(start_h))])

    def fn(t: float) -> float:
        j = int(np.searchsorted(start_h, t, side="right")) - 1
        exponent = k_start[j] + hydrolysis[j] * (t - start_h[j])
        return float(diffusivity[j] * np.exp(min(exponent, MAX_EXPONENT)))

    return fn


def scipy_reference(n: int) -> Row:
    """Seconds per profile of the scipy reference on ``n`` sampled polymer designs.

    Mechanism parameters come from :func:`mechanism_parameters` (tumour medium,
    float64); only the diffusion core is solved numerically. Agreement is the largest
    absolute difference to the closed-form core ``F_Fick(∫D dt / R²)``.
    """
    f = designs(n, torch.device("cpu"), dtype=torch.float64)
    m = mechanism_parameters(f, ReleaseConditions.tumour(), Drug.preset(DRUG))
    times = time_grid(torch.device("cpu"), torch.float64)
    tau, _ = integrate_piecewise_exponential(
        m.start_h, m.diffusivity_nm2_h, m.hydrolysis_per_h, times
    )
    closed_form = fickian_sphere_fraction(tau / (m.radius_nm**2)[:, None]).numpy()
    start_h = m.start_h[0].numpy()
    seconds, errors = [], []
    for i in range(n):
        fn = diffusivity_function(
            start_h, m.diffusivity_nm2_h[i].numpy(), m.hydrolysis_per_h[i].numpy()
        )
        begin = time.perf_counter()
        curve = scipy_sphere_release(
            times.numpy(),
            float(m.radius_nm[i]),
            fn,
            n_cells=SCIPY_CELLS,
            rtol=SCIPY_RTOL,
            atol=SCIPY_ATOL,
        )
        seconds.append(time.perf_counter() - begin)
        errors.append(float(np.abs(curve - closed_form[i]).max()))
    per_profile = statistics.fmean(seconds)
    print(
        f"  scipy reference: {per_profile:.4f} s/profile over {n} designs "
        f"(max |scipy - closed form| = {max(errors):.2e})"
    )
    return {
        "designs": n,
        "n_cells": SCIPY_CELLS,
        "rtol": SCIPY_RTOL,
        "atol": SCIPY_ATOL,
        "seconds_per_profile": per_profile,
        "seconds_each": seconds,
        "max_abs_diff_to_closed_form": max(errors),
        "final_release_closed_form": closed_form[:, -1].tolist(),
    }


# -- 3. Python loop vs batch ---------------------------------------------------------------
def loop_vs_batch(settings: Settings) -> Row:
    """Per-profile cost of ``LOOP_CALLS`` batch-1 calls vs batched calls at 256 and 4096."""
    cpu = torch.device("cpu")
    f = designs(LOOP_CALLS, cpu)
    singles = [f[i] for i in range(LOOP_CALLS)]  # sliced once, outside the clock
    calls = [forward_fn(s, "tumour") for s in singles]
    with torch.inference_mode():
        loop = time_call(lambda: [c() for c in calls], cpu, settings)["seconds"] / LOOP_CALLS
        batched = {
            n: time_call(forward_fn(designs(n, cpu), "tumour"), cpu, settings)["seconds"] / n
            for n in (256, REFERENCE_BATCH)
        }
    row = {
        "loop_calls": LOOP_CALLS,
        "loop_seconds_per_profile": loop,
        "loop_profiles_per_s": 1.0 / loop,
        "batched_seconds_per_profile": {str(n): s for n, s in batched.items()},
        "ratio": {str(n): loop / s for n, s in batched.items()},
    }
    print(
        f"  loop of {LOOP_CALLS} batch-1 calls: {1.0 / loop:,.0f} profiles/s; batched is "
        + ", ".join(f"{loop / s:,.0f}x at {n}" for n, s in batched.items())
    )
    return row


# -- 4. peak memory ------------------------------------------------------------------------
_CPU_MEMORY_PROBE = """
import json, sys, torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
from nanoenv.kinetics import Drug, Formulation, ReleaseConditions, simulate_release

def status(field):
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) * 1024

f = Formulation.sample({n}, generator=torch.Generator().manual_seed({seed}), dtype=torch.float32,
                       fixed={{"pdi": 0.0}})
t = torch.linspace(0.0, {t_end}, {t_points})
c, d = ReleaseConditions.tumour(), Drug.preset({drug!r})
with torch.inference_mode():
    simulate_release(f[:8], t, c, d, validate=False)  # load lazily-initialised kernels
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS (Linux >= 4.0)
    reset = True
except OSError:
    reset = False
before = status("VmRSS:") if reset else status("VmHWM:")
with torch.inference_mode():
    out = simulate_release(f, t, c, d, validate=False)
print(json.dumps({{"increase": status("VmHWM:") - before, "reset": reset,
                  "rss_before": before, "output_bytes": out.numel() * out.element_size()}}))
"""


def cpu_peak_memory(n: int, runs: int) -> Row:
    """Peak-RSS increase of one batch-``n`` forward call, median over fresh subprocesses."""
    code = _CPU_MEMORY_PROBE.format(
        root=str(ROOT),
        threads=torch.get_num_threads(),
        n=n,
        seed=SEED,
        t_end=T_END_H,
        t_points=T_POINTS,
        drug=DRUG,
    )
    probes = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        probes.append(json.loads(out.stdout.strip().splitlines()[-1]))
    increase = int(statistics.median(p["increase"] for p in probes))
    return {
        "device": "cpu",
        "batch": n,
        "method": "VmHWM increase in a fresh subprocess"
        + (" (peak reset via clear_refs)" if probes[0]["reset"] else " (no peak reset)"),
        "runs": [p["increase"] for p in probes],
        "peak_bytes": increase,
        "bytes_per_profile": increase / n,
        "output_bytes": probes[0]["output_bytes"],
        "baseline_rss_bytes": probes[0]["rss_before"],
    }


def cuda_peak_memory(n: int) -> Row:
    """Peak allocated CUDA memory above the pre-call level for one batch-``n`` call."""
    device = torch.device("cuda")
    call = forward_fn(designs(n, device), "tumour")
    with torch.inference_mode():
        call()
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        out = call()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
    return {
        "device": "cuda",
        "batch": n,
        "method": "torch.cuda.max_memory_allocated above the pre-call allocation",
        "peak_bytes": peak,
        "bytes_per_profile": peak / n,
        "output_bytes": out.numel() * out.element_size(),
    }


# -- 5. gradients --------------------------------------------------------------------------
def gradient_throughput(device: torch.device, n: int, settings: Settings) -> Row:
    """Forward + backward profiles per second, gradients to every design parameter."""
    f = designs(n, device)
    values = f.values.detach().clone().requires_grad_(True)
    times = time_grid(device)
    conditions, drug = ReleaseConditions.tumour(), Drug.preset(DRUG)

    def step() -> None:
        values.grad = None
        design = Formulation(values, f.carrier, validate=False)
        simulate_release(design, times, conditions, drug, validate=False).sum().backward()

    t = time_call(step, device, settings)
    assert values.grad is not None and bool(torch.isfinite(values.grad).all())
    print(f"  {device.type:4s} forward+backward B={n}: {n / t['seconds']:,.0f} profiles/s")
    return {
        "device": device.type,
        "batch": n,
        "seconds_per_call": t["seconds"],
        "profiles_per_s": n / t["seconds"],
    }


# -- output --------------------------------------------------------------------------------
def machine(devices: Sequence[torch.device], cuda: str) -> Row:
    """What ran the benchmark (CPU model, cores, library versions, threads, devices)."""
    cpu = cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "devices": [d.type for d in devices],
        "cuda": cuda,
        "cuda_device": (
            torch.cuda.get_device_name() if any(d.type == "cuda" for d in devices) else None
        ),
    }


def _cores(value: float | None) -> str:
    return "an unknown number of cores" if value is None else f"{value:.2f} cores"


def _verdict(value: float, goal: float) -> str:
    return "met" if value >= goal else "**not met**"


def markdown(result: Row) -> str:
    """The Markdown report: machine, throughput table, headline figures with goals."""
    m, s = result["machine"], result["summary"]
    mem = result["peak_memory"]
    lines = [
        "# Simulator benchmark" + (" (quick)" if result["quick"] else ""),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), Python {m['python']}, CUDA: {m['cuda']}. "
        f"Other processes kept {_cores(result['other_processes_cores'])} busy on average "
        "during the run (busy time in `/proc/stat` less this benchmark's own CPU time).",
        "",
        "## Forward throughput (float32, 32 time points, `validate=False`, inference mode)",
        "",
        "| device | carrier | shape | medium | batch | ms / call | µs / profile | profiles / s "
        "| best repeat, profiles / s |",
        "|---|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["throughput"]:
        lines.append(
            f"| {r['device']} | {r['carrier']} | {r.get('shape', 'sphere')} | {r['medium']} | "
            f"{r['batch']:,} | "
            f"{1e3 * r['seconds_per_call']:.3f} | {r['us_per_profile']:.3f} | "
            f"{r['profiles_per_s']:,.0f} | {r['batch'] / r['seconds_per_call_min']:,.0f} |"
        )
    sc, lp = result["scipy_reference"], result["loop"]
    lines += [
        "",
        "## Headline figures",
        "",
        "| figure | measured | goal |",
        "|---|---:|---|",
        f"| CPU, polymer, tumour medium, batch {REFERENCE_BATCH:,} | "
        f"{s['cpu_profiles_per_s']:,.0f} profiles/s | ≥ {GOAL_PROFILES_PER_S:,} profiles/s "
        f"on a 2-core CPU: {_verdict(s['cpu_profiles_per_s'], GOAL_PROFILES_PER_S)} |",
        f"| scipy reference, per profile | {sc['seconds_per_profile'] * 1e3:,.1f} ms | |",
        f"| simulator vs scipy reference, per profile | {s['scipy_ratio']:,.0f}× | "
        f"≥ {GOAL_SCIPY_RATIO:,}×: {_verdict(s['scipy_ratio'], GOAL_SCIPY_RATIO)} |",
        f"| Python loop of {lp['loop_calls']} batch-1 calls | "
        f"{lp['loop_profiles_per_s']:,.0f} profiles/s | |",
    ]
    for n, ratio in lp["ratio"].items():
        lines.append(f"| batched call at {int(n):,} vs that loop, per profile | {ratio:,.0f}× | |")
    for g in result["gradient"]:
        lines.append(
            f"| forward + backward, {g['device']}, batch {g['batch']:,} | "
            f"{g['profiles_per_s']:,.0f} profiles/s | |"
        )
    for r in mem:
        lines.append(
            f"| peak memory, {r['device']}, batch {r['batch']:,} | "
            f"{r['peak_bytes'] / 2**20:,.1f} MiB ({r['bytes_per_profile']:,.0f} B/profile; "
            f"output {r['output_bytes'] / r['batch']:.0f} B/profile) | |"
        )
    if "cuda" not in result["machine"]["devices"]:
        lines.append(f"| CUDA throughput | {result['machine']['cuda']} | |")
    lines += [
        "",
        "## How measured",
        "",
        "Designs are drawn with `Formulation.sample` over the full parameter bounds, "
        "monodisperse spheres unless the shape column says otherwise (cylinders of aspect "
        "ratio 3, slabs, or PDI 0.3 averaged by 9-node Gauss-Hermite quadrature) (seed "
        f"{SEED}), doxorubicin, {T_POINTS} time points from 0 to {T_END_H:g} h, float32, "
        "`simulate_release(..., validate=False)` under `torch.inference_mode()`. Each "
        "timing (columns 5-7) is the median of "
        f"{result['settings']['repeats']} repeats after two warm-up calls; a repeat calls the "
        f"function until at least {result['settings']['min_seconds']} s of "
        "`time.perf_counter` have passed (CUDA is synchronised before each clock read); the "
        "last column is the fastest repeat. "
        f"The scipy reference solves only the diffusion core of {sc['designs']} sampled "
        "polymer designs: their `mechanism_parameters` in the tumour medium give "
        "`D(t) = D_k·exp(K(t))`, `K(t) = ∫k_h dt`, which "
        f"`tests.reference_solver.scipy_sphere_release` integrates with BDF on {sc['n_cells']} "
        f"graded finite-volume shells (rtol {sc['rtol']:g}, atol {sc['atol']:g}); it agrees "
        f"with the simulator's closed form to {sc['max_abs_diff_to_closed_form']:.1e} and "
        "costs the mean wall time per design. The ratio divides that by the simulator's "
        f"seconds per profile at batch {REFERENCE_BATCH:,} (full model, tumour medium) "
        "measured in the same run, so it understates the cost of the full model in scipy. "
        "The loop calls the simulator once per pre-sliced single design. Peak memory is the "
        "increase of the peak resident set (`VmHWM`, reset through `/proc/self/clear_refs`) "
        f"during one batch-{MEMORY_BATCH:,} call in a fresh interpreter (median of "
        f"{result['settings']['memory_runs']}), or `torch.cuda.max_memory_allocated` on CUDA. "
        "Gradients: `sum(F).backward()` to `formulation.values`. "
        "`python benchmarks/bench_simulator.py` reproduces this file.",
    ]
    others = result["other_processes_cores"]
    if others is not None and others > 0.1:
        lines += [
            "",
            f"Note: other processes used {others:.2f} of the {m['cores']} cores on average while "
            "this ran, so the CPU timings are pessimistic (the fastest repeat is the least "
            "disturbed; two torch threads slow down sharply when a core is taken).",
        ]
    return "\n".join(lines) + "\n"


def resolve_devices(choice: str) -> tuple[list[torch.device], str]:
    """CPU always (the goals are stated for CPU), plus CUDA when asked and present."""
    devices = [torch.device("cpu")]
    if choice == "cpu":
        return devices, "not requested"
    if not torch.cuda.is_available():
        print("CUDA not available: measuring CPU only")
        return devices, "not available"
    devices.append(torch.device("cuda"))
    return devices, f"available ({torch.cuda.get_device_name()})"


def run(quick: bool, device_choice: str) -> Row:
    """Every measurement; returns the result record written to JSON."""
    settings = Settings(quick)
    load_start = os.getloadavg()[0]
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    devices, cuda = resolve_devices(device_choice)

    print("1. forward throughput")
    rows: list[Row] = []
    for device in devices:
        rows += throughput(device, BATCH_SIZES, settings)
    reference = find_row(
        rows,
        device="cpu",
        carrier="polymer",
        medium="tumour",
        batch=REFERENCE_BATCH,
        shape="sphere",
    )
    assert reference is not None
    print("2. scipy reference")
    scipy_row = scipy_reference(settings.scipy_designs)
    print("3. Python loop vs batch")
    loop = loop_vs_batch(settings)
    print("4. peak memory")
    memory = [cpu_peak_memory(MEMORY_BATCH, settings.memory_runs)]
    if any(d.type == "cuda" for d in devices):
        memory.append(cuda_peak_memory(MEMORY_BATCH))
    for r in memory:
        print(
            f"  {r['device']:4s} B={r['batch']}: {r['peak_bytes'] / 2**20:,.1f} MiB "
            f"({r['bytes_per_profile']:,.0f} B/profile)"
        )
    print("5. gradients")
    gradient = [gradient_throughput(d, REFERENCE_BATCH, settings) for d in devices]

    cpu_rate = reference["profiles_per_s"]
    scipy_ratio = scipy_row["seconds_per_profile"] * cpu_rate
    cuda_ref = find_row(
        rows,
        device="cuda",
        carrier="polymer",
        medium="tumour",
        batch=REFERENCE_BATCH,
        shape="sphere",
    )
    return {
        "benchmark": "simulator",
        "quick": quick,
        "machine": machine(devices, cuda),
        "settings": {
            "time_points": T_POINTS,
            "t_end_h": T_END_H,
            "dtype": "float32",
            "drug": DRUG,
            "seed": SEED,
            "min_seconds": settings.min_seconds,
            "repeats": settings.repeats,
            "memory_runs": settings.memory_runs,
        },
        "load_average": [load_start, os.getloadavg()[0]],
        "other_processes_cores": other_load(cpu_start, time.perf_counter() - start),
        "throughput": rows,
        "scipy_reference": scipy_row,
        "loop": loop,
        "peak_memory": memory,
        "gradient": gradient,
        "summary": {
            "cpu_profiles_per_s": cpu_rate,
            "cuda_profiles_per_s": cuda_ref["profiles_per_s"] if cuda_ref else None,
            "scipy_seconds_per_profile": scipy_row["seconds_per_profile"],
            "scipy_ratio": scipy_ratio,
            "loop_ratio_256": loop["ratio"]["256"],
            "loop_ratio_4096": loop["ratio"][str(REFERENCE_BATCH)],
            "cpu_gradient_profiles_per_s": gradient[0]["profiles_per_s"],
            "cpu_peak_bytes_per_profile": memory[0]["bytes_per_profile"],
            "goal_profiles_per_s": GOAL_PROFILES_PER_S,
            "goal_profiles_per_s_met": cpu_rate >= GOAL_PROFILES_PER_S,
            "goal_scipy_ratio": GOAL_SCIPY_RATIO,
            "goal_scipy_ratio_met": scipy_ratio >= GOAL_SCIPY_RATIO,
        },
        "wall_seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> Row:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (< 1 min)")
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    result = run(args.quick, args.device)
    report = markdown(result)
    print()
    print(report)
    name = "simulator_quick" if args.quick else "simulator"
    out = Path(args.out)
    atomic_write(out / f"{name}.json", json.dumps(result, indent=2) + "\n")
    atomic_write(out / f"{name}.md", report)
    print(f"wrote {out / name}.json and .md ({result['wall_seconds']:.0f} s)")
    return result


if __name__ == "__main__":
    main()
