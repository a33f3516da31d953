"""The README's examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block_after(heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_plug_in_your_own_reward_model_example_runs(capsys):
    exec(compile(_python_block_after("## Plug in your own reward model"), "README", "exec"), {})
    assert re.match(r"score -?\d+\.\d{3}, f2 -?\d+\.\d", capsys.readouterr().out)


def test_simulator_example_runs():
    scope: dict = {}
    exec(compile(_python_block_after("## The simulator"), "README", "exec"), scope)
    assert tuple(scope["curves"].shape) == (4096, 32)


def test_quickstart_has_exactly_two_commands():
    quickstart = README.read_text(encoding="utf-8").split("## Quickstart", 1)[1].split("## ", 1)[0]
    commands = re.findall(r"```bash\n(.*?)```", quickstart, re.S)
    assert len(commands) == 2
    assert commands[0].strip().endswith("nanoenv demo")
    assert commands[1].strip().endswith("pytest")


def test_bring_your_own_designer_example_runs(capsys):
    exec(compile(_python_block_after("### Bring your own designer"), "README", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("normalised score at K=100: [")
    values = [float(v) for v in out.split("[", 1)[1].rstrip().rstrip("]").split(",")]
    assert len(values) == 4 and all(v > 0 for v in values)
