"""Check a folder the way an administrator keeps it: flow files, the programmes (one file each), the risk word list and
the deployment file side by side. Each file is recognised by its keys (its name decides only when the keys do not)
and checked as what it is, every problem with file and line; flows are also compared with the published texts'
fingerprints (flows/fingerprints.py), so an edit without a new `version:` is refused before anyone runs it.

Kept apart from the command (bot/commands/flows_check.py) so the administrator's pages can check files the same
way.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from flows import fingerprints
from flows.checker import check_files
from flows.loader import TOP_KEYS as FLOW_KEYS
from flows.model import Flow
from flows.programme import Programme
from flows.programme_loader import TOP_KEYS as PROGRAMME_KEYS
from flows.programme_set import programme_set
from flows.risk_file import TOP_KEYS as WORD_LIST_KEYS
from flows.risk_loader import load_risk_terms
from flows.yamlsource import LineMap, Problem, read_yaml
from storage.ports import Conversations

SHARED_KEYS = {"id", "version", "languages", "description"}
# the deployment file's sections (bot/deployment.py reads them); enough of them to recognise the file
DEPLOYMENT_KEYS = {"crisis_contacts", "out_of_hours_notice", "consent", "escalation", "coaches", "roster",
                   "data_protection", "messages", "delivery"}


class FileKind(enum.Enum):
    FLOW = "flow"
    PROGRAMME = "programme"
    WORD_LIST = "risk word list"
    DEPLOYMENT = "deployment"


_KEYS = {
    FileKind.FLOW: set(FLOW_KEYS) - SHARED_KEYS,
    FileKind.PROGRAMME: set(PROGRAMME_KEYS) - SHARED_KEYS,
    FileKind.WORD_LIST: set(WORD_LIST_KEYS) - SHARED_KEYS,
    FileKind.DEPLOYMENT: DEPLOYMENT_KEYS,
}
_NAMES = {FileKind.PROGRAMME: ("programme", "program"), FileKind.WORD_LIST: ("risk_terms", "risk", "word"),
          FileKind.DEPLOYMENT: ("deployment",)}


def kind_of(path: Path) -> FileKind:
    """The kind whose own keys the file uses most; on a tie (or a file that does not parse) its folder
    (programmes/) or name decides; a flow otherwise, so a broken flow file still gets the flow checker's precise
    problems."""
    try:
        data, _ = read_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError):
        data = None
    if isinstance(data, LineMap):
        counts = {kind: len(keys & set(data)) for kind, keys in _KEYS.items()}
        best = max(counts.values())
        leaders = [kind for kind, count in counts.items() if count == best]
        if best > 0 and len(leaders) == 1:
            return leaders[0]
    stem = path.stem.lower()
    if path.parent.name.lower() == "programmes":  # flows/programmes/ holds one programme a file, whatever its name
        return FileKind.PROGRAMME
    return next((kind for kind, names in _NAMES.items() if any(stem.startswith(n) for n in names)), FileKind.FLOW)


def yaml_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given; folders searched for *.yaml / *.yml, with their subfolders (flows/ holds the programme and
    the word list, flows/definitions/ the flows), hidden and `_` folders left out."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        for file in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")]):
            inside = file.relative_to(path).parts[:-1]
            if not any(part.startswith((".", "_")) for part in inside):
                found.append(file)
    return found


@dataclass
class FolderReport:
    """What was checked, by kind, and every problem found."""

    flows: tuple[Flow, ...] = ()
    programmes: list[Programme] = field(default_factory=list)
    word_lists: list[Path] = field(default_factory=list)
    deployments: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    recordable: dict[Path, list[fingerprints.PublishedFlow]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def check_folder(files: Sequence[Path], *, default_flows: Path, default_programmes: Sequence[Path],
                 default_word_list: Path) -> FolderReport:
    """Check `files` by kind. Each programme is checked against the flows among the files, or against
    `default_flows` when none was given, and the programmes together (one id each, at most one default:
    flows/programme_set.py); without a programme among the files, `default_programmes` (those that exist) are
    checked, and without a word list, `default_word_list`: what the bot would read beside them."""
    from bot.flowregistry import load_checked_programme

    by_kind: dict[FileKind, list[Path]] = {kind: [] for kind in FileKind}
    for file in files:
        by_kind[kind_of(file) if file.is_file() else FileKind.FLOW].append(file)
    report = FolderReport()
    flow_files = by_kind[FileKind.FLOW]
    checked = check_files(flow_files)
    report.flows = checked.flows
    report.problems += checked.problems
    report.problems += _fingerprint_problems(checked.flows, report)
    reference = checked.flows if flow_files else check_files(_flow_files(default_flows)).flows
    for path in by_kind[FileKind.PROGRAMME] or default_programmes:
        if not path.is_file():
            continue
        programme, problems = load_checked_programme(path, list(reference))
        report.problems += problems
        if programme is not None:
            report.programmes.append(programme)
    report.problems += programme_set(report.programmes)[1]
    for path in by_kind[FileKind.WORD_LIST] or [default_word_list]:
        _, problems = load_risk_terms(path)
        report.problems += problems
        report.word_lists.append(path)
    for path in by_kind[FileKind.DEPLOYMENT]:
        report.problems += deployment_problems(path)
        report.deployments.append(path)
    return report


def _flow_files(folder: Path) -> list[Path]:
    from flows.checker import flow_paths

    return flow_paths([folder])


def _fingerprint_problems(flows: Sequence[Flow], report: FolderReport) -> list[Problem]:
    """Each flow against the fingerprints.json of its own folder; a folder without one gets one warning."""
    problems: list[Problem] = []
    by_folder: dict[Path, list[fingerprints.PublishedFlow]] = {}
    for flow in flows:
        text = Path(flow.source_path).read_text(encoding="utf-8")
        published = fingerprints.PublishedFlow(flow.id, flow.version, text, flow.source_path)
        by_folder.setdefault(Path(flow.source_path).parent, []).append(published)
    for folder, published_flows in by_folder.items():
        record_file = folder / fingerprints.FILE_NAME
        recorded, problem = read_fingerprints(record_file)
        if problem is not None:
            problems.append(problem)
            continue
        if recorded is None:  # one warning for the folder, not one for each of its flows
            problems.append(Problem(str(record_file), 0, "no published flow texts are recorded here, so a flow edited "
                                    f"without a new version cannot be caught: run `{fingerprints.RECORD_HINT}`",
                                    "warning"))
            report.recordable[record_file] = published_flows
            continue
        found = fingerprints.compare_with_published(published_flows, recorded, str(record_file))
        problems += found
        if not any(p.severity == "error" for p in found):
            report.recordable[record_file] = published_flows
    return problems


def read_fingerprints(record_file: Path) -> tuple[fingerprints.Fingerprints | None, Problem | None]:
    """The recorded fingerprints; None without a problem when the folder has no file yet."""
    if not record_file.exists():
        return None, None
    try:
        return fingerprints.parse_fingerprints(record_file.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError, fingerprints.FingerprintFileError) as exc:
        return None, Problem(str(record_file), 0, f"the fingerprints file cannot be used: {exc}")


def record_fingerprints(report: FolderReport) -> list[str]:
    """Add the checked flows' fingerprints to their folders' files (never changing one already there): what the
    administrator runs once a new version is final. Each file is replaced whole, so a crash leaves the old one."""
    lines = []
    for record_file, published in report.recordable.items():
        recorded, _ = read_fingerprints(record_file)
        updated, added = fingerprints.with_recorded(recorded or {}, published)
        if not added:
            continue
        scratch = record_file.with_name(record_file.name + ".new")
        scratch.write_text(fingerprints.dump_fingerprints(updated), encoding="utf-8")
        scratch.replace(record_file)
        lines.append(f"recorded {', '.join(added)} in {record_file}")
    return lines


_LINE = re.compile(r"^(\d+): (?:error: )?(.*)$", re.DOTALL)


def deployment_problems(path: Path) -> list[Problem]:
    """The deployment file's problems, as `load_deployment` (what the bot reads at start) reports them."""
    from bot.deployment import DeploymentError, load_deployment

    try:
        load_deployment(path)
    except DeploymentError as exc:
        problems = []
        for row in str(exc).splitlines():
            rest = row.removeprefix(f"{path}:")
            m = _LINE.match(rest) if rest != row else None
            problems.append(Problem(str(path), int(m[1]), m[2]) if m else Problem(str(path), 0, row))
        return problems
    return []


def sms_length_warnings(flows: Sequence[Flow]) -> list[Problem]:
    """A step whose SMS (text and numbered answers) would take more than SMS_MAX_SEGMENTS segments (default 3):
    long messages cost more and arrive split on a cheap phone."""
    from bot.gsm import segments, to_gsm
    from bot.settings import settings

    limit = settings().sms_max_segments
    found = []
    for flow in flows:
        for step in flow.steps:
            for lang in flow.languages:
                lines = [step.text.get(lang), *(f"{c.value} = {c.label.get(lang)}" for c in step.choices)]
                count = segments(to_gsm("\n".join(lines)))
                if count > limit:
                    found.append(Problem(flow.source_path, step.line, f"step {step.id!r} in {lang!r} takes {count} "
                                         f"SMS segments (more than {limit})", "warning"))
    return found


async def changed_after_use(flows: Sequence[Flow], storage: Conversations) -> list[Problem]:
    """Flow files whose text differs from what `storage` ran under the same id and version (`flows check --db`, and
    the administrators' page of checked files, bot/desk/file_checks.py)."""
    problems = []
    for flow in flows:
        text = Path(flow.source_path).read_text(encoding="utf-8")
        stored = await storage.flow_version_source(flow.id, flow.version)
        if stored is not None and stored != text:
            line = next((n for n, row in enumerate(text.splitlines(), 1) if row.startswith("version:")), 1)
            problems.append(Problem(flow.source_path, line, f"the file was changed after version {flow.version} "
                                    f"was used by participants: raise `version:` to {flow.version + 1}, then "
                                    "run `flows check --record`; or undo the edit"))
    return problems
