"""Gymnasium environments: thin stateful shells around :mod:`nanoenv.envs.problem`.

Registered ids (``import nanoenv`` registers them):

* ``nanoenv/FormulationDesign-v0`` — continuous edits (:class:`FormulationDesignEnv`);
  ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` gives the
  native batched :class:`FormulationDesignVectorEnv`;
* ``nanoenv/FormulationDesignDiscrete-v0`` — raise/lower one parameter or stop;
* ``nanoenv/MOFormulationDesign-v0`` — vector rewards, MO-Gymnasium's conventions
  (:mod:`nanoenv.envs.multi_objective`).
"""

from __future__ import annotations

from typing import Any

from nanoenv.envs.formulation_design import FormulationDesignDiscreteEnv, FormulationDesignEnv
from nanoenv.envs.vector import FormulationDesignVectorEnv

__all__ = [
    "FormulationDesignDiscreteEnv",
    "FormulationDesignEnv",
    "FormulationDesignVectorEnv",
    "SB3VecEnvAdapter",
    "make_discrete_vector_env",
    "register_envs",
]


def make_discrete_vector_env(**kwargs: Any) -> FormulationDesignVectorEnv:
    """Vector entry point of the discrete id."""
    return FormulationDesignVectorEnv(discrete=True, **kwargs)


def register_envs() -> None:
    """Register the nanoenv ids with Gymnasium (idempotent)."""
    from gymnasium.envs.registration import register, registry

    ids = {
        "nanoenv/FormulationDesign-v0": (
            "nanoenv.envs:FormulationDesignEnv",
            "nanoenv.envs:FormulationDesignVectorEnv",
        ),
        "nanoenv/FormulationDesignDiscrete-v0": (
            "nanoenv.envs:FormulationDesignDiscreteEnv",
            "nanoenv.envs:make_discrete_vector_env",
        ),
        "nanoenv/MOFormulationDesign-v0": (
            "nanoenv.envs.multi_objective:MOFormulationDesignEnv",
            None,
        ),
    }
    for env_id, (entry, vector_entry) in ids.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry, vector_entry_point=vector_entry)


def __getattr__(name: str) -> Any:
    # stable-baselines3 is imported only by those who use the adapter
    if name == "SB3VecEnvAdapter":
        from nanoenv.envs.sb3 import SB3VecEnvAdapter

        return SB3VecEnvAdapter
    raise AttributeError(f"module 'nanoenv.envs' has no attribute {name!r}")
