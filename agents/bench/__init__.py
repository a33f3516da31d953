"""nanoenv-bench: designers, reference optima, the runner and its tables.

* :mod:`agents.bench.registry`: designers by name (entry points, ``module:Class``);
* :mod:`agents.bench.builtin`: the built-in designers;
* :mod:`agents.bench.runner`: the one evaluation pipeline (:func:`score_designer`);
* :mod:`agents.bench.references`: the oracle behind each target's reference and floor;
* :mod:`agents.bench.stats`: IQM, intervals, performance profiles, probability of
  improvement;
* :mod:`agents.bench.run`: ``nanoenv bench run`` (jobs, aggregation, bench.json/.md).

The suites themselves (targets, references, normalised score) are library data:
:mod:`nanoenv.bench`.
"""
