"""A test hook that kills the process at a named point of the write phase (crash-consistency tests).

``VB_TEST_KILL_AT=<point>`` makes :func:`kill_point` send SIGKILL to its own process when it reaches
``<point>``; without the variable it does nothing. Points, in the order a run meets them:
``after_state_write`` (predictions stored, nothing published), ``staged_before_rename`` (run folder
complete in ``.staging``), ``after_publish`` (folder published with its ``PENDING_SYNC`` marker),
``after_create_run``, ``before_terminate`` (everything logged, run still RUNNING) and
``after_terminate`` (run FINISHED, record and marker not yet updated). ``after_chunk_write`` is
met during prediction, each time a chunk of state rows reaches the store; ``after_chunk_write@3``
kills at its third visit (a run killed part-way through its samples).
"""

from __future__ import annotations

import os
import signal

ENV = "VB_TEST_KILL_AT"


_SEEN: dict[str, int] = {}


def kill_point(name: str) -> None:
    """SIGKILL this process here when ``$VB_TEST_KILL_AT`` is ``name`` (or ``name@N``: its N-th visit)."""
    wanted = os.environ.get(ENV)
    if not wanted or not wanted.startswith(name):
        return
    point, _, count = wanted.partition("@")
    if point != name:
        return
    _SEEN[name] = _SEEN.get(name, 0) + 1
    if not count or _SEEN[name] >= int(count):
        os.kill(os.getpid(), signal.SIGKILL)
