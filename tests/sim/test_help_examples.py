"""Every example in ``chakong --help`` and each command's ``--help`` names real fields.

A renamed scenario field must not leave a help example that fails when a user pastes it:
each example's scenario file is loaded with its ``--set`` and ``--vary`` paths applied
(a ``--vary LOW:HIGH`` range at its low end).
"""

from __future__ import annotations

import itertools
import re
import shlex

import pytest

from sim.cli import EPILOG, build_parser
from sim.scenario import load_scenario
from tests.conftest import ROOT


def _examples() -> list[tuple[str, str]]:
    parser = build_parser()
    texts = [("chakong", EPILOG)]
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    texts += [(name, p.epilog or "") for name, p in sub.choices.items()]
    found = []
    for command, text in texts:
        joined = re.sub(r"\\\n\s*", " ", text)
        for line in joined.splitlines():
            line = line.strip()
            if line.startswith("chakong ") and (" --set " in line or " --vary " in line):
                found.append((command, line.split("  #")[0]))
    return found


EXAMPLES = _examples()


def test_help_has_examples_with_overrides() -> None:
    assert len(EXAMPLES) >= 4


COMMANDS = ["validate", "run", "verify", "calibrate", "bench", "compare", "sweep", "report"]


@pytest.mark.parametrize("command", [None, *COMMANDS, "demand"])
def test_every_command_has_help_with_examples(cli, command) -> None:
    res = cli(*([command] if command else []), "--help")
    assert res.returncode == 0 and "example" in res.stdout, res.stderr
    if command in ("run", "compare", "sweep"):
        assert "--precision" in res.stdout and "--no-report" in res.stdout


@pytest.mark.parametrize(("command", "line"), EXAMPLES, ids=[e[1][:60] for e in EXAMPLES])
def test_help_example_fields_exist(command: str, line: str) -> None:
    words = shlex.split(line)
    files = [w for w in words if w.endswith(".toml")]
    assert files, f"{command}: example names no scenario file: {line}"
    overrides = []
    for flag, value in itertools.pairwise(words):
        if flag == "--set":
            overrides.append(value)
        elif flag == "--vary":
            path, _, bounds = value.partition("=")
            overrides.append(f"{path}={bounds.split(':')[0]}")
    for file in files:
        load_scenario(ROOT / file, overrides)  # raises UserError naming the field


def test_help_texts_show_a_percent_sign_as_one() -> None:
    """argparse %-formats a command's one-line help but lays out its description and
    epilog as written: a doubled sign there reaches the user doubled."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    texts = {"chakong": parser.format_help()}
    texts |= {name: p.format_help() for name, p in sub.choices.items()}
    assert "95% intervals" in texts["chakong"]
    assert "95% t-interval" in texts["run"]
    assert [name for name, text in texts.items() if "%%" in text] == []
