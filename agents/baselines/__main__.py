"""``python -m agents.baselines``: compare the search baselines on benchmark suites."""

from agents.baselines.suites import main

main()
