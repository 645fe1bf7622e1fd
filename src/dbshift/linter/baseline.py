"""The lint baseline: findings accepted in migrations merged before the linter was
enabled, so that `lint` and `check` fail on new findings only.

`dbshift lint --baseline write` records every finding of the migrations it lints in
`dbshift.lint-baseline`, next to `dbshift.sum`: one line per migration and rule, with
how many findings were accepted and the migration's checksum. A finding is accepted
while its migration is unchanged (same checksum) and no more findings of that rule
appear in it than were recorded; an edited migration is linted afresh. The file is
text, sorted, one entry a line, so that it merges like code.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from dbshift.errors import ConfigError
from dbshift.files import write_atomic
from dbshift.linter.model import Finding

FILENAME = "dbshift.lint-baseline"
HEADER = (
    "# dbshift lint baseline: findings accepted in migrations written before the linter\n"
    "# ran (docs/lint.md, Baseline). Written by `dbshift lint --baseline write`; an edited\n"
    "# migration is linted afresh. One line each: migration rule count checksum\n"
)
_LINE = re.compile(
    r"^(?P<id>\S+) (?P<code>DS\d{3}) (?P<count>[1-9]\d*) (?P<checksum>[0-9a-f]{64})$"
)

#: (migration id, rule code, migration checksum)
Key = tuple[str, str, str]


@dataclasses.dataclass(frozen=True)
class Baseline:
    """Accepted findings: how many of each rule, per migration as it was."""

    accepted: Mapping[Key, int] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, findings: Iterable[Finding], checksums: Mapping[str, str]) -> Baseline:
        counts = collections.Counter(
            (f.migration, f.code, checksums[f.migration])
            for f in findings
            if f.migration in checksums
        )
        return cls(dict(counts))

    def merged(self, newer: Baseline, linted: Iterable[str], present: Iterable[str]) -> Baseline:
        """This baseline with the entries of the `linted` migrations replaced by `newer`'s,
        and those of migrations no longer `present` dropped."""
        replaced, kept = set(linted), set(present)
        entries = {
            key: n for key, n in self.accepted.items() if key[0] in kept and key[0] not in replaced
        }
        entries.update(newer.accepted)
        return Baseline(entries)

    def split(
        self, findings: Sequence[Finding], checksums: Mapping[str, str]
    ) -> tuple[list[Finding], int]:
        """The findings the baseline does not accept, and how many it accepted."""
        left = dict(self.accepted)
        new: list[Finding] = []
        for finding in findings:
            key = (finding.migration, finding.code, checksums.get(finding.migration, ""))
            if left.get(key, 0) > 0:
                left[key] -= 1
            else:
                new.append(finding)
        return new, len(findings) - len(new)

    def render(self) -> str:
        lines = [f"{m} {code} {n} {checksum}" for (m, code, checksum), n in self.accepted.items()]
        return HEADER + "".join(f"{line}\n" for line in sorted(lines))


def path_in(migrations: Path) -> Path:
    return migrations / FILENAME


def read(migrations: Path) -> Baseline | None:
    """The baseline of a migrations folder; None when there is none."""
    path = path_in(migrations)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(
            f"{path}: cannot read the lint baseline ({error})", hint=_REWRITE
        ) from None
    return parse(text, path)


_REWRITE = "fix the line, or write the file again with `dbshift lint --all --baseline write`"


def parse(text: str, path: Path) -> Baseline:
    entries: dict[Key, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.match(line.strip())
        if match is None:
            raise ConfigError(
                f"{path}:{number}: not a baseline entry (migration rule count checksum): "
                f"{line.strip()[:60]!r}",
                hint=_REWRITE,
            )
        key = (match["id"], match["code"], match["checksum"])
        entries[key] = entries.get(key, 0) + int(match["count"])
    return Baseline(entries)


def write(migrations: Path, baseline: Baseline) -> Path:
    path = path_in(migrations)
    write_atomic(path, baseline.render())
    return path
