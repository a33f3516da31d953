"""``experiments/cleanrl_ppo_continuous.py``: CleanRL's PPO loop and wrapper stack run on
``make_vec(..., vectorization_mode="vector_entry_point")`` with only the env id changed
(issue 13)."""

import importlib.util
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from nanoenv.envs import FormulationDesignVectorEnv

pytestmark = pytest.mark.usefixtures("one_torch_thread")
PATH = Path(__file__).resolve().parents[1] / "experiments" / "cleanrl_ppo_continuous.py"


def _module():
    spec = importlib.util.spec_from_file_location("cleanrl_ppo_continuous", PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def test_cleanrl_loop_trains_on_the_native_vector_env(capsys):
    exp = _module()
    args = exp.parse_args(
        [
            "--total-timesteps",
            "384",
            "--num-envs",
            "8",
            "--num-steps",
            "16",
            "--num-minibatches",
            "4",
            "--update-epochs",
            "2",
        ]
    )
    assert (args.env_id, args.vectorization_mode) == (
        "nanoenv/FormulationDesign-v0",
        "vector_entry_point",
    )
    envs = exp.make_envs(args)
    assert isinstance(envs.unwrapped, FormulationDesignVectorEnv)
    assert isinstance(envs, gym.wrappers.vector.TransformReward)
    envs.close()
    seen = exp.main(args)
    out = capsys.readouterr().out
    assert out.count("SPS") == 384 // (8 * 16)  # one line per iteration
    # episodes end (success or the 20-edit budget) and are recorded by the wrapper stack
    assert len(seen["returns"]) >= 8 and all(1 <= n <= 20 for n in seen["lengths"])
    assert np.all(np.isfinite(seen["returns"]))
