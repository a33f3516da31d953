"""nanoenv: a differentiable release-kinetics simulator and RL environments for
designing drug-delivery nanoparticles.

``import nanoenv`` registers the Gymnasium ids ``nanoenv/FormulationDesign-v0``
and ``nanoenv/FormulationDesignDiscrete-v0``.
"""

__version__ = "0.1.0"


def _register() -> None:
    from nanoenv.envs import register_envs

    register_envs()


_register()
