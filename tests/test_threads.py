"""Thread defaults (:mod:`nanoenv.threads`) and the no-CUDA device errors (issue 13)."""

import gymnasium as gym
import pytest
import torch

import nanoenv  # noqa: F401  (registers the ids)
from nanoenv import threads
from nanoenv.cli import main
from nanoenv.envs import FormulationDesignVectorEnv

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA paths")


@pytest.fixture
def fresh_threads(monkeypatch):
    """Undo every thread choice of a test; the default rule starts unchosen."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "CHOICE", threads.ThreadChoice(at_import=2))
    for key in threads.THREAD_ENV_VARS:
        monkeypatch.delenv(key, raising=False)
    torch.set_num_threads(2)
    yield monkeypatch
    torch.set_num_threads(before)


def test_default_rule_picks_one_thread_once(fresh_threads):
    assert threads.configure_threads() == 1
    torch.set_num_threads(2)  # the user's later choice stands
    assert threads.configure_threads() == 2


def test_user_choices_are_left_alone(fresh_threads):
    fresh_threads.setenv("OMP_NUM_THREADS", "2")
    assert threads.configure_threads() == 2
    fresh_threads.delenv("OMP_NUM_THREADS")
    fresh_threads.setattr(threads, "CHOICE", threads.ThreadChoice(at_import=2))
    torch.set_num_threads(3)  # set after import: differs from the count seen at import
    assert threads.configure_threads() == 3


def test_explicit_threads_apply_through_env_kwarg_and_cli(fresh_threads, capsys):
    FormulationDesignVectorEnv(num_envs=2, num_threads=2)
    assert torch.get_num_threads() == 2
    gym.make("nanoenv/FormulationDesign-v0", num_threads=1)
    assert torch.get_num_threads() == 1
    assert main(["--threads", "0", "simulate"]) == 2  # refused before the command runs
    out = capsys.readouterr()
    assert "threads=0 must be a positive integer" in out.err and out.out == ""
    assert main(["--threads", "2", "simulate", "--points", "5"]) == 0
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match=r"threads=1\.5"):
        threads.configure_threads(1.5)


@pytest.mark.parametrize(
    "make",
    [
        lambda: gym.make("nanoenv/FormulationDesign-v0", device="cuda"),
        lambda: gym.make_vec(
            "nanoenv/FormulationDesign-v0",
            num_envs=2,
            vectorization_mode="vector_entry_point",
            device="cuda",
        ),
    ],
)
def test_cuda_without_a_gpu_is_one_clear_error(make):
    with pytest.raises(ValueError, match=r"device='cuda' but torch finds no CUDA device"):
        make()
