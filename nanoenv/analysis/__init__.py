"""Analysis tools beside the simulator: empirical release models fitted to dissolution
data (:mod:`nanoenv.analysis.empirical`, DDSolver-style) and a method-of-lines reference
solver for radial diffusion with spatially varying diffusivity
(:mod:`nanoenv.analysis.mol`). Nothing in the simulator, the environments or the tasks
depends on them.
"""
