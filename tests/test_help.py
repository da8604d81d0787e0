"""`--help` of every command (issue 11): flags take no value, so no `<bool>` beside them."""

from __future__ import annotations

import re

import pytest
import typer

from cxrules.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_shows_no_type_beside_flags(run_cli, command):
    result = run_cli(*([command] if command else []), "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.stdout
    assert re.search(r"--help\s+-h\s+Show this message", result.stdout), result.stdout


def test_options_that_take_a_value_still_show_its_type(run_cli):
    text = run_cli("check", "--help").stdout
    assert re.search(r"--output\s+-o\s+\S+\s+Write the report", text)  # the type of its value (`<path>`) stays
    assert re.search(r"--strict\s+Exit 1 on warnings too", text)
    assert re.search(r"--color\s+--no-color\s+Colour", text)


def test_every_command_is_covered():
    assert {"validate", "check", "route", "simulate", "graph", "report", "diff", "init", "schema", "explain"} <= set(COMMANDS)
