"""The METEOR process: input that would break coco-caption's protocol, time-outs, and recovery."""

from __future__ import annotations

import shutil

import pytest

from visionbench.tasks.caption_meteor import Meteor, MeteorError, sanitise

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR 1.5 runs on java")


def test_sanitise_removes_separators_and_line_breaks():
    assert sanitise("a dog ||| on\nthe\r\ngrass") == "a dog on the  grass".replace("  ", " ")
    assert "|||" not in sanitise("|||||||") and "\n" not in sanitise("x\ny")


def test_time_out_names_the_image_and_the_next_call_starts_afresh():
    refs = [["a dog on the grass", "a brown dog outside"], ["two cats", "a pair of cats on a bed"]]
    with Meteor(timeout=0.01) as meteor:  # the JVM cannot answer this fast: the first read times out
        with pytest.raises(MeteorError, match="sample 'first'.*no answer within"):
            meteor.score(["a dog", "cats"], refs, ["first", "second"])
        assert meteor.process is None  # killed, not left holding a half-read protocol
        meteor.timeout = 120.0
        corpus, images = meteor.score(
            ["a dog ||| in\nthe park", "a dog in the park", "three cats"],
            [refs[0], refs[0], refs[1]],
            ["messy", "clean", "cats"],
        )
    assert images[0] == images[1] > 0.1  # the separator and the line break did not reach the jar
    assert 0 < corpus < 1 and len(images) == 3
