"""The only module that runs git: what the migrations folder's repository knows.

Every call runs `git -C <folder>` with a timeout and C messages. Git is optional: a
folder outside a repository, a missing `git` binary, or a slow repository give the
answers "nothing known" (`None`), except where a command asked for git itself
(`lint --since`), which gets `GitFailed`. Commands import this module on first use, so
those that never ask git do not pay for `subprocess`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from typing import Literal, NamedTuple

#: refs whose trees may hold a migration file the work tree lacks, most telling first
#: what a ref is: `HEAD` (the current commit), a branch, a remote branch or a tag
RefKind = Literal["HEAD", "branch", "remote branch", "tag"]
_REF_KINDS: dict[str, RefKind] = {
    "refs/heads/": "branch",
    "refs/remotes/": "remote branch",
    "refs/tags/": "tag",
}


class Ref(NamedTuple):
    """A ref by its short name, and what it is: `HEAD`, `branch`, `remote branch`, `tag`."""

    kind: RefKind
    name: str

    def __str__(self) -> str:
        return self.name if self.kind == "HEAD" else f"{self.kind} {self.name}"


class GitFailed(Exception):
    """git could not be run, or refused: `reason` is its first line of complaint."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run(
    folder: os.PathLike[str] | str,
    *args: str,
    timeout: float = 30,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """`git -C folder ARGS`, whatever its exit status; raises `GitFailed` when git
    cannot be started or does not finish within `timeout` seconds."""
    try:
        return subprocess.run(
            ["git", "-C", os.fspath(folder), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},  # messages are matched below
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise GitFailed(str(error)) from None


def lines(folder: os.PathLike[str] | str, *args: str, timeout: float = 60) -> list[str]:
    """The non-blank lines git prints; `GitFailed` when it exits non-zero."""
    done = run(folder, *args, timeout=timeout)
    if done.returncode != 0:
        raise GitFailed((done.stderr.strip().splitlines() or ["git failed"])[0])
    return [line for line in done.stdout.splitlines() if line.strip()]


def committed(folder: os.PathLike[str] | str, names: Sequence[str]) -> set[str] | None:
    """Which of these files of `folder` git has in HEAD (shared with others), or None
    when the folder is not in a git work tree or git cannot be run."""
    if not names:
        return set()
    try:
        done = run(folder, "ls-tree", "--name-only", "HEAD", "--", *names)
    except GitFailed:
        return None
    if done.returncode != 0:
        if "not a git repository" in done.stderr:
            return None
        return set()  # a repository without commits yet: nothing is shared
    return {line.rsplit("/", 1)[-1] for line in done.stdout.splitlines() if line}


def refs_holding(
    folder: os.PathLike[str] | str, names: Sequence[str], timeout: float = 5
) -> dict[str, list[Ref]] | None:
    """For each file name of `folder`, the branches (then remote branches, then tags)
    whose latest commit has it; `HEAD` first when the current commit has it (the work
    tree lost it). None when nothing can be known: not a repository, no git, or git
    too slow (two processes, whatever the number of refs)."""
    try:
        refs = lines(folder, "for-each-ref", "--format=%(refname)", *_REF_KINDS, timeout=timeout)
        branches = [ref for ref in refs if not ref.endswith("/HEAD")]  # origin/HEAD
        wanted = ["HEAD", *sorted(branches, key=_ref_rank)]
        # `REF:./NAME` is NAME relative to `folder`; one line per (ref, name) asked
        asked = [(ref, name) for ref in wanted for name in names]
        query = "".join(f"{ref}:./{name}\n" for ref, name in asked)
        done = run(folder, "cat-file", "--batch-check", stdin=query, timeout=timeout)
    except GitFailed:
        return None
    answers = done.stdout.splitlines()
    if done.returncode != 0 or len(answers) != len(asked):
        return None
    found: dict[str, list[Ref]] = {name: [] for name in names}
    for (ref, name), answer in zip(asked, answers, strict=True):
        if not answer.endswith(" missing") and " blob " in answer:
            found[name].append(_short(ref))
    return found


def _ref_rank(ref: str) -> tuple[int, str]:
    kind = next(i for i, prefix in enumerate(_REF_KINDS) if ref.startswith(prefix))
    return kind, ref


def _short(ref: str) -> Ref:
    for prefix, kind in _REF_KINDS.items():
        if ref.startswith(prefix):
            return Ref(kind, ref[len(prefix) :])
    return Ref("HEAD", ref)
