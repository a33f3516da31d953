"""PPO and SAC (stable-baselines3) trained on the native vector environment.

* :mod:`agents.rl.config`: :class:`TrainConfig`, read from YAML by :func:`load_config`
  and validated strictly; the PPO defaults shipped as package data
  (``agents/rl/configs/ppo.yaml``); :mod:`agents.rl.hyperparameters`: the SB3 keywords'
  checks;
* :mod:`agents.rl.models`: the training environment (:func:`make_vec_env`) and models
  (:func:`load_model`);
* :mod:`agents.rl.run_folder`: run folders, checkpoints, the training cost;
* :mod:`agents.rl.callbacks`: atomic checkpoints, SIGTERM, the progress bar;
* :mod:`agents.rl.training`: :func:`train` (a new run folder, or ``resume=RUN_DIR``) and
  :func:`train_model` (the training itself, for other trainers' run folders);
* :mod:`agents.rl.evaluate`: :func:`evaluate_run` and :func:`evaluate_baseline` run the
  seeded :func:`~nanoenv.tasks.benchmark_suite` and save per-target results as JSON and
  CSV.

>>> cfg = TrainConfig(algo="ppo", task="realisable", total_steps=256, num_envs=4)
>>> cfg.algo, cfg.env.max_edits
('ppo', 20)
"""

from agents.rl.config import (
    ALGORITHMS,
    DEVICES,
    MAX_EVAL_BUDGET,
    MAX_EVAL_TARGETS,
    EnvConfig,
    EvalConfig,
    TrainConfig,
    load_config,
)
from agents.rl.evaluate import (
    RESULT_COLUMNS,
    check_evaluation_size,
    evaluate_baseline,
    evaluate_run,
    save_results,
)
from agents.rl.models import load_model, make_vec_env
from agents.rl.run_folder import (
    FINAL_MODEL,
    last_checkpoint,
    make_run_folder,
    model_identity,
    new_folder,
    training_cost,
)
from agents.rl.training import train, train_model

__all__ = [
    "ALGORITHMS",
    "DEVICES",
    "FINAL_MODEL",
    "MAX_EVAL_BUDGET",
    "MAX_EVAL_TARGETS",
    "RESULT_COLUMNS",
    "EnvConfig",
    "EvalConfig",
    "TrainConfig",
    "check_evaluation_size",
    "evaluate_baseline",
    "evaluate_run",
    "last_checkpoint",
    "load_config",
    "load_model",
    "make_run_folder",
    "make_vec_env",
    "model_identity",
    "new_folder",
    "save_results",
    "train",
    "train_model",
    "training_cost",
]
