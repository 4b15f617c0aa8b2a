"""Which flow versions the bot can run: the files on disk, plus any version a run started on.

Each file's text is stored in the database the first time its (id, version) is seen. A run that started on
version 1 keeps finishing on version 1 after an administrator edits the file to version 2, even in a new
process, because version 1's text comes back from the database. A file edited without raising its version
is refused (the stored text wins), so two different flows never share one version number.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import programme_files
from flows.checker import check_files, check_flow, flow_paths
from flows.loader import load_flow_text
from flows.model import Flow, FlowLibrary
from flows.programme import Programme
from flows.programme_loader import check_programme, load_programme
from flows.programme_set import ProgrammeSet, programme_set
from flows.risk import SAFETY_CHECK
from flows.risk_loader import load_risk_terms
from flows.state import State
from flows.yamlsource import Problem
from storage.ports import Conversations

log = logging.getLogger(__name__)
DEFAULT_FLOWS_DIR = Path(__file__).resolve().parent.parent / "flows" / "definitions"
DEFAULT_RISK_TERMS = Path(__file__).resolve().parent.parent / "flows" / "risk_terms.yaml"
# seed 002's programme, the shipped default (flows/programmes/ holds seed 001's and seed 000's beside it)
SHIPPED_PROGRAMME = Path(__file__).resolve().parent.parent / "flows" / "programmes" / "stress_programme.yaml"


class SafetyContentError(RuntimeError):
    """The free-text word list or the safety check cannot be used: the bot refuses to run without them."""


@dataclass
class FlowRegistry:
    storage: Conversations
    library: FlowLibrary
    problems: tuple[Problem, ...] = ()

    @classmethod
    async def load(cls, storage: Conversations, now: datetime, flows_dir: Path = DEFAULT_FLOWS_DIR,
                   risk_terms: Path = DEFAULT_RISK_TERMS) -> FlowRegistry:
        terms, term_problems = load_risk_terms(risk_terms)
        if terms is None:
            raise SafetyContentError("the risk word list cannot be used:\n" + "\n".join(map(str, term_problems)))
        report = check_files(flow_paths([flows_dir]))
        problems = list(report.problems)
        for p in report.errors:
            log.error("flow file problem: %s", p)
        usable: list[Flow] = []
        for flow in report.flows:
            source = Path(flow.source_path).read_text(encoding="utf-8")
            stored = await storage.remember_flow_version(flow.id, flow.version, source, now)
            if stored is not None and stored != source:
                problem = Problem(flow.source_path, _version_line(source), (
                    f"flow {flow.id!r} was changed after participants ran version {flow.version}, without a new "
                    f"version, so they still get the stored version {flow.version}. To send the new text: raise "
                    f"`version:` to {flow.version + 1} in this file, run `stressbot flows check --record` and restart "
                    "the bot; or undo the edit"))
                log.error("%s", problem)
                problems.append(problem)
                restored = _from_source(stored, f"{flow.id} v{flow.version} (stored)")
                if restored is not None:
                    usable.append(restored)
                continue
            usable.append(flow)
        if not any(f.id == SAFETY_CHECK for f in usable):
            problems.append(Problem(str(flows_dir), 0, f"no usable {SAFETY_CHECK!r} flow: risk signals still escalate "
                                    "to a coach, but the safety check cannot be offered", "warning"))
            log.error("no usable %s flow in %s", SAFETY_CHECK, flows_dir)
        programmes, programme_problems = load_checked_programmes(programme_files(flows_dir), usable)
        for p in programme_problems:
            log.error("programme file problem: %s (its participants get no reminders until it is fixed)", p)
        library = FlowLibrary.of(*usable, risk_terms=terms, programme=programmes.default, programmes=programmes.by_id)
        return cls(storage, library, tuple([*problems, *term_problems, *programme_problems]))

    async def library_for(self, state: State) -> FlowLibrary:
        """The library, completed with the version the participant's run is on if it is no longer on disk."""
        run = state.run
        if run is None or self.library.get(run.flow_id, run.flow_version) is not None:
            return self.library
        source = await self.storage.flow_version_source(run.flow_id, run.flow_version)
        flow = None if source is None else _from_source(source, f"{run.flow_id} v{run.flow_version} (stored)")
        if flow is not None:
            self.library = self.library.with_flow(flow)
        return self.library


def load_checked_programme(path: Path, flows: list[Flow]) -> tuple[Programme | None, list[Problem]]:
    """The programme file, checked against the usable flows. No file: no programme (a plain questionnaire
    bot). A file with errors is not used (no reminders go out) and every error is logged."""
    if not path.is_file():
        return None, []
    programme, problems = load_programme(path)
    library = FlowLibrary.of(*flows)
    if programme is not None:
        problems += check_programme(programme, {fid: f for fid in library.ids() if (f := library.latest(fid))})
    errors = [p for p in problems if p.severity == "error"]
    return (None if errors else programme), problems


def load_checked_programmes(paths: list[Path], flows: list[Flow]) -> tuple[ProgrammeSet, list[Problem]]:
    """Every programme file, each checked against the usable flows (one with errors is left out: its participants
    get no reminders until it is fixed, never another programme's), then the set (flows/programme_set.py)."""
    loaded: list[Programme] = []
    problems: list[Problem] = []
    for path in paths:
        programme, found = load_checked_programme(path, flows)
        problems += found
        if programme is not None:
            loaded.append(programme)
    chosen, found = programme_set(loaded)
    return chosen, problems + found


def _version_line(source: str) -> int:
    return next((n for n, row in enumerate(source.splitlines(), 1) if row.startswith("version:")), 1)


def _from_source(source: str, label: str) -> Flow | None:
    flow, problems = load_flow_text(source, label)
    if flow is None or any(p.severity == "error" for p in check_flow(flow)):
        log.error("stored flow %s no longer loads: %s", label, "; ".join(map(str, problems)))
        return None
    return flow
