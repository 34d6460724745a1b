"""The docs' snippets that run commands: shell blocks, ``explain`` sessions and usage synopses.

The conventions and the checks are in ``tests/test_docs.py``; these tests live in a file of their
own because ``make test`` hands whole files to its two workers, and the commands are most of the
docs' test time.
"""

from __future__ import annotations

import pytest

from test_docs import BLOCKS, COMMAND_CHECKS, Block, block_id


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.kind in COMMAND_CHECKS], ids=block_id)
def test_command_snippet(block: Block) -> None:
    COMMAND_CHECKS[str(block.kind)](block)


def test_there_are_commands_to_run() -> None:
    runnable = [b for b in BLOCKS if b.kind == "shell" and "skip" not in b.options]
    assert len(runnable) >= 4 and len([b for b in BLOCKS if b.kind == "session"]) >= 10
