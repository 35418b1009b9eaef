"""Word-level differences between two wordings, for showing a proposed change."""

import difflib
import functools
import re
from typing import NamedTuple

TOKENS = re.compile(r"\s+|[^\s]+")


class Segment(NamedTuple):
    kind: str  # "same", "added" or "removed"
    text: str


def word_diff(before: str, after: str) -> list[Segment]:
    """What changed, word by word. A pure function of two wordings, both of immutable versions,
    so each pair is worked out once per worker process and kept in its own memory (it holds
    wording: never a shared cache)."""
    return list(_word_diff(before, after))


@functools.lru_cache(maxsize=2048)
def _word_diff(before: str, after: str) -> tuple[Segment, ...]:
    old, new = TOKENS.findall(before), TOKENS.findall(after)
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(Segment("same", "".join(old[a1:a2])))
            continue
        if op in ("delete", "replace"):
            segments.append(Segment("removed", "".join(old[a1:a2])))
        if op in ("insert", "replace"):
            segments.append(Segment("added", "".join(new[b1:b2])))
    return tuple(segments)
