"""METEOR 1.5 through coco-caption's Java jar (shipped in the pycocoevalcap wheel), run defensively.

The jar runs as one ``java -jar -Xmx2G meteor-1.5.jar - - -stdio -l en -norm`` process, as in
coco-caption: one ``SCORE ||| ref ... ||| hyp`` line per image returns that image's statistics,
then one ``EVAL ||| stats ...`` line returns the per-image scores and the corpus score (METEOR's
own aggregate over the statistics, not the mean of the per-image scores). Differences from
coco-caption's wrapper, none of which changes a score:

* input is sanitised: ``|||`` (the field separator) is removed and line breaks become spaces in
  references and candidates alike, so no caption can desynchronise the protocol;
* every read has a time limit; on a time-out, a dead process or garbage output the process is
  killed and the error names the image (the next call starts a fresh process), instead of a lock
  that stays held forever;
* stderr is discarded rather than piped, so a chatty JVM cannot fill the pipe and stall.

Without ``java`` on the PATH :func:`java_available` is False and the task omits ``meteor`` with a
note in the record; nothing else ever stands in for it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Sequence

from visionbench.errors import VisionbenchError

TIMEOUT_S = 120.0


class MeteorError(VisionbenchError):
    """The METEOR process failed (start-up, time-out, unreadable output)."""


def jar_path() -> str | None:
    try:
        from pycocoevalcap.meteor import meteor as module  # a namespace package: locate it by a module
    except ImportError:  # pragma: no cover - a core dependency
        return None
    path = os.path.join(os.path.dirname(os.path.abspath(module.__file__)), "meteor-1.5.jar")
    return path if os.path.exists(path) else None


def java_available() -> bool:
    return shutil.which("java") is not None and jar_path() is not None


def unavailable_reason() -> str:
    if shutil.which("java") is None:
        return "java is not on the PATH: METEOR 1.5 (coco-caption's Java jar) was not computed"
    return "pycocoevalcap's meteor-1.5.jar is missing: METEOR was not computed"


def sanitise(text: str) -> str:
    """One caption as a safe METEOR field: no separator, no line break, single spaces where coco-caption has them."""
    return text.replace("\r", " ").replace("\n", " ").replace("|||", "").replace("  ", " ")


class Meteor:
    """A METEOR 1.5 process; use as a context manager (the process ends on exit)."""

    def __init__(self, timeout: float = TIMEOUT_S) -> None:
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()

    def __enter__(self) -> Meteor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        jar = jar_path()
        if jar is None or shutil.which("java") is None:
            raise MeteorError(unavailable_reason())
        command = ["java", "-jar", "-Xmx2G", os.path.basename(jar), "-", "-", "-stdio", "-l", "en", "-norm"]
        self.process = subprocess.Popen(
            command,
            cwd=os.path.dirname(jar),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines = queue.Queue()
        stdout = self.process.stdout
        threading.Thread(target=_pump, args=(stdout, self.lines), daemon=True).start()
        return self.process

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()  # type: ignore[union-attr]
            process.kill()
            process.wait()

    def _ask(self, line: str, replies: int, what: str) -> list[str]:
        process = self.process or self._start()
        try:
            process.stdin.write((line + "\n").encode("utf-8"))  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            out = []
            for _ in range(replies):
                reply = self.lines.get(timeout=self.timeout)
                if reply is None:
                    raise MeteorError(f"the METEOR process ended while scoring {what}")
                out.append(reply)
            return out
        except (queue.Empty, OSError, MeteorError) as exc:
            self.close()
            reason = f"no answer within {self.timeout:g} s" if isinstance(exc, queue.Empty) else str(exc)
            raise MeteorError(f"METEOR failed on {what}: {reason}") from None

    def score(
        self, candidates: Sequence[str], references: Sequence[Sequence[str]], ids: Sequence[str]
    ) -> tuple[float, list[float]]:
        """``(corpus score, per-image scores)`` for tokenised candidates and their references."""
        stats = []
        for candidate, refs, sample in zip(candidates, references, ids, strict=True):
            fields = ["SCORE", *(sanitise(r) for r in refs), sanitise(candidate)]
            (reply,) = self._ask(" ||| ".join(fields), 1, f"sample '{sample}'")
            stats.append(reply.strip())
        replies = self._ask(" ||| ".join(["EVAL", *stats]), len(stats) + 1, "the corpus")
        try:
            values = [float(r.strip()) for r in replies]
        except ValueError:
            self.close()
            raise MeteorError(f"METEOR returned unreadable scores: {replies[:2]}") from None
        return values[-1], values[:-1]


def _pump(stream, lines: queue.Queue) -> None:
    for raw in iter(stream.readline, b""):
        lines.put(raw.decode("utf-8", errors="replace"))
    lines.put(None)
