"""A retention pass that kills itself (SIGKILL) at one step of its first game-day: the crash
tests run it as a process, then check that the next pass loses and doubles nothing.

    python -m tests.support.retention_kill STEP EVENTS_TOPIC GAME_ID...

Settings come from the retention contract's variables in the environment.
"""

import dataclasses
import os
import signal
import sys
import uuid
from datetime import date

from apps.core.settings.retention import RetentionSettings
from apps.retention.passes import Pass
from apps.s3.client import client


def main(argv: list[str]) -> int:
    step, topic, *games = argv
    settings = dataclasses.replace(RetentionSettings.from_env(os.environ), events_topic=topic)

    def hook(name: str, game_id: uuid.UUID, day: date) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    Pass(settings, client(settings.s3), hook=hook, only=frozenset(map(uuid.UUID, games))).run()
    return 3  # the step never came


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
