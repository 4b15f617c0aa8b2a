"""The bot's files checked for an administrator: the ones in use, or an edited one before it is put in place.

The checking is `flows check`'s own (bot/file_check.py: `check_folder`, the SMS length warnings and the comparison
with what participants already ran): called, never restated, so the page and the
command always agree. What this module adds is for a reader who is not a programmer: each problem with its file,
line and the line's own text, and a sentence saying what the bot does while it is there.

An edited file is checked in a scratch folder laid out like the live one, beside copies of the other files (its
flows are checked against the programme, the programme against its flows, the fingerprints of published texts
come along): nothing is written where the bot reads, and the scratch folder is gone when the check is done.
Problems found there are told with the live files' names.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import config
from bot.deployment import deployment_path
from bot.file_check import FileKind, changed_after_use, check_folder, kind_of, sms_length_warnings, yaml_files
from bot.flowregistry import DEFAULT_FLOWS_DIR, DEFAULT_RISK_TERMS
from flows.fingerprints import FILE_NAME as FINGERPRINTS
from flows.model import Flow
from flows.yamlsource import Problem
from storage.ports import Conversations

MAX_TEXT = 256 * 1024  # characters of an edited file: the risk word list, the largest, is about 86 KB
NEW_FLOW = "new-flow.yaml"  # where a new flow file is put in the scratch folder's flows


@dataclass(frozen=True)
class BotFiles:
    """Where the running bot reads its files (the settings' BOT_FLOWS_DIR, BOT_PROGRAMME, BOT_DEPLOYMENT, or the
    shipped defaults): the flows, the deployment's programme files (one programme each), the word list and the
    deployment file."""

    flows: Path  # the folder of flow definitions (with its fingerprints.json)
    programmes: tuple[Path, ...]
    word_list: Path
    deployment: Path

    @classmethod
    def in_use(cls) -> BotFiles:
        flows = config.flows_dir() or DEFAULT_FLOWS_DIR
        return cls(flows, tuple(config.programme_files(flows)), DEFAULT_RISK_TERMS, deployment_path())

    def flow_files(self) -> list[Path]:
        return yaml_files([self.flows]) if self.flows.is_dir() else []

    def choices(self) -> dict[str, Path]:
        """The files an edited one may replace, by a key the form sends (never a path from the browser): every
        flow file (relative to the flows folder), each programme file, the word list, the deployment file."""
        found = {f"flows/{p.relative_to(self.flows).as_posix()}": p for p in self.flow_files()}
        found[f"flows/{NEW_FLOW}"] = self.flows / NEW_FLOW
        for programme in self.programmes:
            found[f"programmes/{programme.name}"] = programme
        for key, path in (("word_list", self.word_list), ("deployment", self.deployment)):
            if path.is_file():
                found[key] = path
        return found


@dataclass(frozen=True)
class Finding:
    """One problem as the page shows it."""

    file: str  # the live file's name, as the administrator finds it on the server
    line: int  # 0: about the whole file
    excerpt: str  # the line's own text (stripped), "" without a line
    message: str
    error: bool
    consequence: str  # what the bot does while an error is there (one of CONSEQUENCES' keys; "" for a warning)


@dataclass(frozen=True)
class CheckedFile:
    file: str
    kind: FileKind
    errors: int
    warnings: int
    edited: bool = False  # the file checked in place of the live one


@dataclass(frozen=True)
class CheckResult:
    files: tuple[CheckedFile, ...]
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> int:
        return sum(f.error for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(not f.error for f in self.findings)

    def of(self, file: str) -> list[Finding]:
        return [f for f in self.findings if f.file == file]


def shown(path: Path) -> str:
    """The path as an administrator finds it: relative to the folder the bot runs in when it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def consequence(kind: FileKind, message: str) -> str:
    """What the bot does while the error is there, as a key the template says in words: a flow changed without a
    new version ("changed_flow": the edit is not used, participants keep the published text), or by kind."""
    if kind is FileKind.FLOW and "changed" in message and "version" in message:
        return "changed_flow"
    return {FileKind.FLOW: "flow", FileKind.PROGRAMME: "programme", FileKind.WORD_LIST: "word_list",
            FileKind.DEPLOYMENT: "deployment"}[kind]


@dataclass(frozen=True)
class Edit:
    """An edited file to check before it is put in place: the text, and which file it replaces (a key of
    `BotFiles.choices`)."""

    replaces: str
    text: str


async def check_files(files: BotFiles, storage: Conversations, edit: Edit | None = None) -> CheckResult:
    """The files in use, or with `edit` in place of one of them (in a scratch folder, gone afterwards)."""
    if edit is None:
        return await _check(files, storage, {}, None)
    with tempfile.TemporaryDirectory(prefix="desk-check-") as scratch:
        copy, target = await asyncio.to_thread(_lay_out, files, Path(scratch), edit)
        names = {str(copy.flows): shown(files.flows), str(copy.word_list): shown(files.word_list),
                 str(copy.deployment): shown(files.deployment),
                 **{str(c): shown(p) for c, p in zip(copy.programmes, files.programmes, strict=True)}}
        return await _check(copy, storage, names, target)


async def _check(files: BotFiles, storage: Conversations, names: dict[str, str], edited: Path | None) -> CheckResult:
    checked, problems, flows = await asyncio.to_thread(check_in_use, files)
    problems += await changed_after_use(flows, storage)
    return await asyncio.to_thread(findings, checked, problems, names, edited)


def check_in_use(files: BotFiles) -> tuple[list[Path], list[Problem], Sequence[Flow]]:
    """`flows check` on the files the bot reads (blocking): the files checked, every problem, and the flows that
    loaded (for the comparison with what participants ran)."""
    given = [*files.flow_files(), *([files.deployment] if files.deployment.is_file() else [])]
    report = check_folder(given, default_flows=files.flows, default_programmes=list(files.programmes),
                          default_word_list=files.word_list)
    checked = [*given, *(p for p in files.programmes if p.is_file()), files.word_list]
    return checked, [*report.problems, *sms_length_warnings(report.flows)], report.flows


def _lay_out(files: BotFiles, root: Path, edit: Edit) -> tuple[BotFiles, Path]:
    """The scratch folder: the live files' copies, laid out as the bot reads them, with the edited text in place
    of the file it replaces. Returns the scratch files and the edited one's path."""
    copy = BotFiles(root / "flows", tuple(root / "programmes" / p.name for p in files.programmes),
                    root / "word_list.yaml", root / "deployment.yaml")
    if files.flows.is_dir():
        shutil.copytree(files.flows, copy.flows, ignore=_not_checked)
    else:
        copy.flows.mkdir()
    (root / "programmes").mkdir()
    for live, scratch in ((files.word_list, copy.word_list), (files.deployment, copy.deployment),
                          *zip(files.programmes, copy.programmes, strict=True)):
        if live.is_file():
            shutil.copyfile(live, scratch)
    key = edit.replaces
    target = (copy.flows / key.removeprefix("flows/") if key.startswith("flows/") else
              root / key if key.startswith("programmes/") else
              {"word_list": copy.word_list, "deployment": copy.deployment}[key])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(edit.text, encoding="utf-8")
    return copy, target


def _not_checked(folder: str, names: list[str]) -> set[str]:
    """What `copytree` leaves out of the flows' copy: all but YAML files, the fingerprints and subfolders."""
    return {n for n in names if n == "__pycache__" or not (
        n.endswith((".yaml", ".yml")) or n == FINGERPRINTS or (Path(folder) / n).is_dir())}


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def findings(checked: Sequence[Path], problems: Iterable[Problem], names: dict[str, str],
             edited: Path | None) -> CheckResult:
    """The problems as the page shows them (blocking: reads the files): live names (`names`: scratch paths to the
    live files' names), each file's kind, the line's own text, what the bot does meanwhile."""
    def live(text: str) -> str:
        for scratch in sorted(names, key=len, reverse=True):  # the folder after the files in it
            text = text.replace(scratch, names[scratch])
        return text

    def name(path: str) -> str:
        return live(path) if names else shown(Path(path))

    kinds = {str(p): kind_of(p) if p.is_file() else FileKind.FLOW for p in checked}
    lines = {str(p): _lines(p) for p in checked}
    found = []
    for p in problems:
        rows = lines.get(p.path, [])
        excerpt = rows[p.line - 1].strip() if 0 < p.line <= len(rows) else ""
        error = p.severity == "error"
        kind = kinds.get(p.path, FileKind.FLOW)
        found.append(Finding(name(p.path), p.line, excerpt, live(p.message), error,
                             consequence(kind, p.message) if error else ""))
    summaries = []
    for path in checked:
        file = name(str(path))
        mine = [f for f in found if f.file == file]
        summaries.append(CheckedFile(file, kinds[str(path)], sum(f.error for f in mine),
                                     sum(not f.error for f in mine), path == edited))
    order = {s.file: i for i, s in enumerate(summaries)}
    found.sort(key=lambda f: (order.get(f.file, len(order)), not f.error, f.line))
    return CheckResult(tuple(summaries), tuple(found))
