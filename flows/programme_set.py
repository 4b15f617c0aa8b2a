"""The deployment's programmes together (issue 15: several programmes in one deployment, each participant in one):
each known by its file's `id`, and which one is the default, the one an enrolment naming none gets.

Each file is read and checked on its own by flows/programme_loader.py; what only the set can show is checked here.
Pure: it is given the programmes read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from flows.programme import Programme
from flows.yamlsource import Problem


@dataclass(frozen=True)
class ProgrammeSet:
    """The usable programmes by id, and the default (None: several, none marked `default: true`, so every
    enrolment names one)."""

    by_id: dict[str, Programme] = field(default_factory=dict)
    default: Programme | None = None


def programme_set(programmes: Sequence[Programme]) -> tuple[ProgrammeSet, list[Problem]]:
    """Two files with one id are both refused: a participant recorded with that id must never get the other
    file's messages. One programme is the default whether marked or not; of several, the one marked
    `default: true`, and two marked is an error (neither is the default)."""
    problems: list[Problem] = []
    counts = Counter(p.id for p in programmes)
    for p in programmes:
        if counts[p.id] > 1:
            others = ", ".join(o.source_path for o in programmes if o.id == p.id and o is not p)
            problems.append(Problem(p.source_path, 1, f"programme id {p.id!r} is also the id of {others}: each "
                                    "programme needs an id of its own (participants are recorded with it), so "
                                    "neither file is used"))
    usable = [p for p in programmes if counts[p.id] == 1]
    by_id = {p.id: p for p in usable}
    marked = [p for p in usable if p.default]
    if len(marked) > 1:
        for p in marked:
            problems.append(Problem(p.source_path, 1, f"programmes {', '.join(repr(m.id) for m in marked)} are all "
                                    "marked `default: true`: only one can be the default"))
        return ProgrammeSet(by_id, None), problems
    if marked:
        return ProgrammeSet(by_id, marked[0]), problems
    if len(usable) == 1:
        return ProgrammeSet(by_id, usable[0]), problems
    if usable:
        problems.append(Problem(usable[0].source_path, 1, f"{len(usable)} programmes ({', '.join(sorted(by_id))}) "
                                "and none is marked `default: true`: every enrolment must name one (--programme), "
                                "and anyone enrolled before programmes were recorded gets none", "warning"))
    return ProgrammeSet(by_id, None), problems
