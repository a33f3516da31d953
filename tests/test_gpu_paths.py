"""The prepared GPU check and the CUDA paths of the benchmarks (issue 13): without a GPU
they fail at once with one line; the check's measuring code runs (tiny, on the CPU)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA paths")


@no_cuda
@pytest.mark.parametrize(
    "command",
    [
        ["bash", "benchmarks/gpu_check.sh", "--out", "OUT"],
        [sys.executable, "benchmarks/bench_training.py", "--device", "cuda", "--out", "OUT"],
    ],
)
def test_gpu_commands_without_cuda_exit_2_in_one_line_and_write_nothing(tmp_path, command):
    command = [str(tmp_path / "out") if c == "OUT" else c for c in command]
    env = {"PYTHON": sys.executable, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "CUDA" in lines[-1] and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_gpu_check_measures_on_any_device(tmp_path):
    sys.path.insert(0, str(ROOT))
    from benchmarks import gpu_check

    cpu = torch.device("cpu")
    result = {
        "gpu": "cpu (test)",
        "torch": torch.__version__,
        "total_s": 0.0,
        "simulator": gpu_check.simulator(cpu, [64]),
        "vector_env": [gpu_check.vector_env(cpu, 32, "sustained", 2)],
        "ppo": [gpu_check.ppo(cpu, 16, "sustained", 1)],
    }
    assert result["simulator"][0]["profiles_per_s"] > 0
    assert result["vector_env"][0]["env_steps_per_s"] > 0
    assert result["ppo"][0]["env_steps"] == 16 * 16
    text = gpu_check.markdown(result)
    assert "| sustained | 32 |" in text and "| 64 |" in text
