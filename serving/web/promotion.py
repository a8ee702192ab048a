"""Admin promotion from the analyst pages, through exactly the gates the CLI applies.

`serving` must not import `training/` (the layers), so the page runs the front door itself —
`signpost promote recommender|early-help` — in a child process with the server's own
environment, and then asks the registry whether the champion moved. The command's own words
(every gate passed or failed, and why) are shown to the admin unchanged. A web promotion never
forces: overriding a gate stays a deliberate act at the command line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass

from serving.errors import Conflict, Unavailable

#: The CLI's promote commands by analyst-page slug.
COMMANDS = {"recommender": ["promote", "recommender"], "early-help": ["promote", "early-help"]}
TIMEOUT_SECONDS = 900
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_running = threading.Lock()


@dataclass(frozen=True)
class PromotionOutcome:
    slug: str
    version: str
    promoted: bool
    champion_after: str | None
    output: str  # what the gates said, as the CLI printed it

    @property
    def checks(self) -> list[tuple[bool, str]]:
        """The CLI's `pass …` / `fail …` lines as (passed, sentence), for a readable list."""
        out = []
        for line in self.output.splitlines():
            word, _, rest = line.strip().partition(" ")
            if word in ("pass", "fail") and rest:
                out.append((word == "pass", rest))
        return out


def run_gates(slug: str) -> tuple[int, str]:
    """Run `signpost promote <slug>` (the challenger) and return its exit code and output."""
    if not _running.acquire(blocking=False):
        raise Conflict("another promotion is running; wait for it to finish and reload the page")
    try:
        env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}
        try:
            done = subprocess.run(
                [sys.executable, "-c", "from signpost.cli import app; app()", *COMMANDS[slug]],
                env=env, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False,
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"the promotion gates did not finish within {TIMEOUT_SECONDS // 60} minutes; "
                              "run `signpost promote` at the command line") from None
        return done.returncode, _ANSI.sub("", (done.stdout + done.stderr).strip())
    finally:
        _running.release()
