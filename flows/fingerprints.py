"""The published flow texts' fingerprints: one SHA-256 per (flow id, version), kept in the repository beside the
flow files (`fingerprints.json`), so a flow edited without raising its `version:` is caught by `flows check` and
the test suite, before any database has run it (the running bot compares with its stored text only afterwards).

The fingerprint is of the text exactly as the bot stores and compares it (bot/flowregistry.py): the file read as
UTF-8 with its line endings as ``\\n``. A comment or a space is a change too, because the running bot would refuse
it just the same. Pure: texts in, problems and JSON text out; the caller reads and writes the file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flows.yamlsource import Problem

FILE_NAME = "fingerprints.json"
RECORD_HINT = "flows check --record"


def fingerprint(text: str) -> str:
    """SHA-256 of the flow's text with ``\\n`` line endings (what `Path.read_text` gives on every system)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PublishedFlow:
    """One flow file as checked: its id, version, text and where its `version:` line is."""

    flow_id: str
    version: int
    text: str
    path: str

    @property
    def version_line(self) -> int:
        return next((n for n, row in enumerate(self.text.splitlines(), 1) if row.startswith("version:")), 1)


class FingerprintFileError(ValueError):
    """The fingerprints file is not what `dump_fingerprints` writes."""


Fingerprints = dict[str, dict[int, str]]


def parse_fingerprints(text: str) -> Fingerprints:
    """`{"pss10": {"1": "<sha256>", ...}, ...}` into {flow id: {version: fingerprint}}."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FingerprintFileError(f"not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise FingerprintFileError("must be a JSON object of flow ids")
    found: Fingerprints = {}
    for flow_id, versions in data.items():
        if not isinstance(versions, dict):
            raise FingerprintFileError(f"{flow_id!r} must map versions to fingerprints")
        for version, digest in versions.items():
            if not str(version).isdigit() or not isinstance(digest, str) or len(digest) != 64:
                raise FingerprintFileError(f"{flow_id!r} version {version!r}: not a version and a SHA-256")
            found.setdefault(flow_id, {})[int(version)] = digest
    return found


def dump_fingerprints(recorded: Mapping[str, Mapping[int, str]]) -> str:
    """Sorted by id and version, one version a line, so a raised version shows as one added line in a diff."""
    lines = []
    for flow_id in sorted(recorded):
        versions = recorded[flow_id]
        rows = ",\n".join(f"    {json.dumps(str(v))}: {json.dumps(versions[v])}" for v in sorted(versions))
        lines.append(f"  {json.dumps(flow_id)}: {{\n{rows}\n  }}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def compare_with_published(flows: Iterable[PublishedFlow], recorded: Fingerprints,
                           record_file: str) -> list[Problem]:
    """An error for each flow whose (id, version) was published with another text, or whose version is below the
    highest published one; a warning for a version not yet recorded (a new version, before it is published)."""
    problems = []
    for flow in flows:
        versions = recorded.get(flow.flow_id, {})
        known = versions.get(flow.version)
        highest = max(versions, default=0)
        if known is not None and known != fingerprint(flow.text):
            problems.append(Problem(flow.path, flow.version_line, (
                f"flow {flow.flow_id!r} was changed but version {flow.version} was already published with another "
                f"text ({record_file}): raise version to {highest + 1}, then run `{RECORD_HINT}`; or undo the "
                "change")))
        elif known is None and flow.version < highest:
            problems.append(Problem(flow.path, flow.version_line, (
                f"flow {flow.flow_id!r} has version {flow.version}, below version {highest} already published "
                f"({record_file}): use version {highest + 1}")))
        elif known is None:
            problems.append(Problem(flow.path, flow.version_line, (
                f"flow {flow.flow_id!r} version {flow.version} is not in {record_file} yet: once this text is "
                f"final, run `{RECORD_HINT}` so later edits without a new version are caught"), "warning"))
    return problems


def with_recorded(recorded: Fingerprints, flows: Iterable[PublishedFlow]) -> tuple[Fingerprints, list[str]]:
    """`recorded` with every flow's fingerprint added, and what was added ("pss10 v2"). Never overwrites: a flow
    whose (id, version) already has another fingerprint is refused by `compare_with_published` first."""
    updated = {flow_id: dict(versions) for flow_id, versions in recorded.items()}
    added = []
    for flow in flows:
        versions = updated.setdefault(flow.flow_id, {})
        digest = fingerprint(flow.text)
        if versions.get(flow.version) not in (None, digest):
            raise FingerprintFileError(f"{flow.flow_id} v{flow.version} is recorded with another text")
        if flow.version not in versions:
            versions[flow.version] = digest
            added.append(f"{flow.flow_id} v{flow.version}")
    return updated, added
