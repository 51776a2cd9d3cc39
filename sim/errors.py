"""Errors a user can cause and fix: the CLI prints them without a traceback and exits 2."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input (a file, a flag, a value).

    ``problems`` holds one line per problem, each naming where it is and what is wrong.
    """

    exit_code = 2

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


class SplitNotExact(UserError):
    """A replication split across processes met what would make its results differ from
    one process's (:mod:`sim.engine.split`): it must run unsplit."""
