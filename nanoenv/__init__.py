"""nanoenv: a differentiable release-kinetics simulator and RL environments for
designing drug-delivery nanoparticles."""

__version__ = "0.1.0"
