"""Single formulation-design environments (continuous and discrete edits)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import logger, spaces

from nanoenv.design_space import DesignSpace
from nanoenv.envs.problem import (
    DesignState,
    Evaluation,
    InitialDesigner,
    ProblemSpec,
    action_to_delta,
    draw_episodes,
    make_infos,
    observation_space,
    observe,
    reset_rows,
    step,
)
from nanoenv.envs.target_pool import TargetPool
from nanoenv.kinetics import SimulatorConstants
from nanoenv.rewards import RewardModel
from nanoenv.tasks import Target
from nanoenv.threads import configure_threads

__all__ = ["TARGET_POOL_SIZE", "FormulationDesignDiscreteEnv", "FormulationDesignEnv"]

#: Hidden-design targets a single environment draws at once (nanoenv.envs.target_pool).
TARGET_POOL_SIZE = 16


class FormulationDesignEnv(gym.Env[np.ndarray, np.ndarray]):
    """
    ## Description

    Design a drug-delivery particle whose cumulative release curve matches a
    target. Each step edits the design (size, surface charge, polymer or lipid
    composition, drug loading, pH- and temperature-responsive components) and
    the differentiable simulator :func:`nanoenv.kinetics.simulate_release`
    returns the new curve under the target's medium schedule. Targets come from
    a task family (:data:`nanoenv.tasks.TASK_FAMILIES`).

    ## Action Space

    ``Box(-1, 1, (dim,), float32)``: the change of every free design
    coordinate, scaled by ``max_step`` (the new design is clipped to the
    space). ``dim`` is the design space's number of free parameters (11 for the
    default polymer space, 9 for liposomes).

    ## Observation Space

    ``Box(float32)`` of length ``dim + 4·24 + 10``:

    | Index              | Observation                               | Min | Max |
    |--------------------|-------------------------------------------|-----|-----|
    | 0 … dim−1          | normalised design coordinates             | -1  | 1   |
    | next 24            | current cumulative release on the grid    | 0   | 1   |
    | next 24            | target cumulative release on the grid     | 0   | 1   |
    | next 24            | medium pH on the grid, (pH − 7.4)/2       | -10 | 10  |
    | next 24            | medium temperature, (T − 37 °C)/5         | -10 | 10  |
    | next 9             | horizon, drug and patient descriptors     | -10 | 10  |
    | last               | share of the edit budget used             | 0   | 1   |

    ## Rewards

    Potential-based: the change of the reward model's score from the previous
    design (default: the task family's own, ``TaskFamily.reward``: ``f2/100`` for most
    families, the time-in-window share for ``therapeutic_window``, ``f2/100`` reduced
    by the stability cost for the hard tier), plus ``success_bonus`` on the edit that
    reaches ``f2 ≥ success_f2`` (the discrete env's stop action earns none).
    ``info["cost"]`` carries a colloidal-stability / manufacturability cost for
    constrained RL.

    ## Starting State

    A target drawn from the task family with ``self.np_random``, and a design
    drawn uniformly from the design space (``initial_design="random"``) or its
    centre (``"center"``), or proposed by a callable
    (:class:`nanoenv.envs.problem.InitialDesigner`, e.g. a generative prior; its
    simulator calls count in ``info["sim_calls"]``). ``reset(options={"target":
    Target, "z": design})`` fixes the target and the first design.

    ## Episode End

    Terminated when ``f2 ≥ success_f2`` (default 50, "similar" per FDA);
    truncated after ``max_edits`` edits (default 20).

    ## Arguments

    | Argument         | Default        | Meaning                                            |
    |------------------|----------------|----------------------------------------------------|
    | `task`           | `"realisable"` | task family name                                   |
    | `reward_model`   | family default | registered name or a callable (see nanoenv.rewards)|
    | `max_edits`      | 20             | edit budget per episode                            |
    | `max_step`       | 0.25           | largest coordinate change per edit                 |
    | `design_space`   | family default | a :class:`nanoenv.design_space.DesignSpace`        |
    | `device`         | `"cpu"`        | torch device of the simulator (`"auto"` for CUDA)  |
    | `render_mode`    | `None`         | `"rgb_array"` or `"ansi"`                          |
    | `success_f2`     | 50.0           | f2 that ends the episode in success                |
    | `success_bonus`  | 1.0            | reward added on success                            |
    | `initial_design` | `"random"`     | `"random"`, `"center"` or an `InitialDesigner`     |
    | `constants`      | family default | `"literature"`, `"calibrated"` or constants (below)|
    | `num_threads`    | `None`         | torch threads (`None`: 1 unless chosen; nanoenv.threads)|

    ## Simulator constants

    `constants=None` takes the task family's own (`TaskFamily.constants`): the constants
    calibrated on the PLAI release data for `task="dataset"`, whose microparticles and
    implants the data cover, and the literature constants for every other family, which
    the calibration does not validate (measurements in :mod:`nanoenv.tasks`).
    `"literature"`, `"calibrated"` or a `SimulatorConstants` override it; `realisable`
    targets are then drawn with the same constants, so their optimum stays f2 = 100.

    ## Vectorized environment

    ``gymnasium.make_vec("nanoenv/FormulationDesign-v0", num_envs=N,
    vectorization_mode="vector_entry_point")`` builds
    :class:`nanoenv.envs.FormulationDesignVectorEnv`: one simulator call per
    step for all environments, each with its own target.

    ## Version History

    * v0: initial version.

    >>> import gymnasium as gym, nanoenv
    >>> env = gym.make("nanoenv/FormulationDesign-v0", task="sustained")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (117,)
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}
    discrete = False

    def __init__(
        self,
        task: str = "realisable",
        reward_model: str | RewardModel | None = None,
        max_edits: int = 20,
        max_step: float = 0.25,
        design_space: DesignSpace | None = None,
        device: str | torch.device = "cpu",
        render_mode: str | None = None,
        success_f2: float = 50.0,
        success_bonus: float = 1.0,
        initial_design: str | InitialDesigner = "random",
        constants: SimulatorConstants | str | None = None,
        num_threads: int | None = None,
    ) -> None:
        configure_threads(num_threads)
        self.spec_ = ProblemSpec.create(
            task=task,
            reward_model=reward_model,
            max_edits=max_edits,
            max_step=max_step,
            design_space=design_space,
            device=device,
            success_f2=success_f2,
            success_bonus=success_bonus,
            initial_design=initial_design,
            constants=constants,
        )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r}; allowed: {self.metadata['render_modes']} or None"
            )
        self.render_mode = render_mode
        self.observation_space = observation_space(self.spec_)
        self.action_space = self._make_action_space()
        self._state: DesignState | None = None
        self._last: Evaluation | None = None
        self._sim_calls = 0
        self._done = False
        self._pool = TargetPool(
            self.spec_.family, self.spec_.design_space, self.spec_.constants, TARGET_POOL_SIZE
        )

    def _make_action_space(self) -> spaces.Space:
        dim = self.spec_.design_space.dim
        return spaces.Box(-1.0, 1.0, (dim,), dtype=np.float32)

    def _action_tensor(self, action: Any) -> torch.Tensor:
        """One action as a batch of one, with the single-env shape checked."""
        a = np.asarray(action)
        dim = self.spec_.design_space.dim
        if self.discrete:
            if a.shape not in ((), (1,)) or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"action must be one integer in [0, {2 * dim}]; got {action!r}")
            return torch.as_tensor(a.reshape(1).astype(np.int64), device=self.spec_.device)
        if a.shape != (dim,):
            raise ValueError(
                f"action must have shape ({dim},) (one edit per free parameter "
                f"{self.spec_.design_space.names}); got {a.shape}"
            )
        return torch.as_tensor(a.astype(np.float32)[None], device=self.spec_.device)

    @property
    def state(self) -> DesignState:
        """The current :class:`~nanoenv.envs.problem.DesignState` (a batch of one: target,
        design ``z``, its curve, score, f2 and edits used)."""
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before reading the state")
        return self._state

    @property
    def target(self) -> Target:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before reading the target")
        return self._state.targets.targets[0]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        self._pool.retain([self.np_random])
        given = options.get("target")
        z0, extra = options.get("z"), 0
        if z0 is None:
            targets, z0, calls = draw_episodes(
                self.spec_, self._pool, [self.np_random], None if given is None else [given]
            )
            target, extra = targets[0], int(calls[0])
        else:
            target = given or self._pool.draw([self.np_random])[0]
        self._state, ev = reset_rows(self.spec_, None, None, [target], z0)
        self._sim_calls = 1 + extra
        self._last = ev
        self._done = False
        return self._obs(), self._info(ev)

    def _obs(self) -> np.ndarray:
        return observe(self.spec_, self._state)[0].cpu().numpy()

    def _info(self, ev: Evaluation) -> dict[str, Any]:
        return make_infos(self.spec_, ev, np.asarray([self._sim_calls]), index=0)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        delta, stop = action_to_delta(self.spec_, self._action_tensor(action), self.discrete)
        if self._done:
            logger.warn(
                "step() called after the episode ended (terminated or truncated); call reset(). "
                "The design is left unchanged and the reward is 0."
            )
            return self._obs(), 0.0, True, False, self._info(self._last)
        tr = step(self.spec_, self._state, delta, stop)
        self._sim_calls += 1
        self._state, self._last = tr.state, tr.evaluation
        terminated, truncated = bool(tr.terminated[0]), bool(tr.truncated[0])
        self._done = terminated or truncated
        return self._obs(), float(tr.reward[0]), terminated, truncated, self._info(tr.evaluation)

    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None:
            logger.warn("render() called without a render_mode; pass render_mode= to the env")
            return None
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before render()")
        target = self.target
        current = self._state.release[0].detach().cpu().numpy()
        if self.render_mode == "ansi":
            lines = [
                f"{target.family} target | f2 {float(self._state.f2[0]):6.1f} | "
                f"edit {int(self._state.edits[0])}/{self.spec_.max_edits}",
                "   time h   target %  current %",
            ]
            for t, y, c in zip(
                target.times_h.tolist(), target.release.tolist(), current, strict=True
            ):
                lines.append(f"{t:9.1f} {100 * y:9.1f} {100 * c:9.1f}")
            return "\n".join(lines)
        from nanoenv.plotting import figure_to_rgb_array, plot_release

        fig = plot_release(
            target.times_h.numpy(),
            current[None],
            labels=["current design"],
            target=target.release.numpy(),
            conditions=target.conditions,
            title=f"{target.family}: f2 = {float(self._state.f2[0]):.1f}",
        )
        return figure_to_rgb_array(fig)


class FormulationDesignDiscreteEnv(FormulationDesignEnv):
    """
    ## Description

    As :class:`FormulationDesignEnv`, with discrete edits: raise or lower one
    design coordinate by ``max_step``, or stop.

    ## Action Space

    ``Discrete(2·dim + 1)``: action ``i < dim`` raises coordinate ``i``;
    ``dim ≤ i < 2·dim`` lowers coordinate ``i − dim``; ``2·dim`` stops the
    episode (terminated; the unchanged design is simulated once more, so a stop costs one
    simulator call like an edit, and its reward is 0: no success bonus, even on a start that
    already succeeds).

    ## Observation Space, Rewards, Starting State, Arguments

    As :class:`FormulationDesignEnv`.

    ## Episode End

    Terminated on success or on the stop action; truncated after ``max_edits``.

    ## Vectorized environment

    ``FormulationDesignVectorEnv(..., discrete=True)``.

    ## Version History

    * v0: initial version; since issue 12 a stop earns no success bonus (before, a stop on
      a start that already succeeded was paid it).
    """

    def _make_action_space(self) -> spaces.Space:
        return spaces.Discrete(2 * self.spec_.design_space.dim + 1)

    discrete = True
