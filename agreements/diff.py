"""Word-level differences between two wordings, for showing a proposed change."""

import difflib
import re
from typing import NamedTuple

TOKENS = re.compile(r"\s+|[^\s]+")


class Segment(NamedTuple):
    kind: str  # "same", "added" or "removed"
    text: str


def word_diff(before: str, after: str) -> list[Segment]:
    """What changed, word by word."""
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
    return segments
