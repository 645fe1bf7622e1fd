"""squawk's own per-rule test cases, read at run time from a snapshot of its repository.

Nothing of squawk is copied into dbshift: `bench/lint_vs_squawk.py` gives the path of a
(bare) git directory of the squawk repository, and this module reads
`crates/squawk_linter/src/rules/*.rs` from its HEAD with `git show`. Each rule's file ends
in a Rust test module whose `#[test]` functions lint a SQL string (a raw `r#"..."#` or a
plain `"..."` literal) for one rule and either expect no finding (`lint_ok`,
`lint_ok_with`) or expect findings (`lint_errors`, `lint_errors_with`, `fix_sql`,
`fix_sql_with`, whose output the snapshots hold). The extractor is a small Rust lexer
(string, char and comment literals, so that braces inside SQL do not end a function)
and a reader of those calls; a test whose SQL is built at run time (`format!`) or that
calls none of them is counted as skipped, never guessed.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

RULES_DIR = "crates/squawk_linter/src/rules"
#: what each test helper of squawk's test_utils expects: findings (True) or none (False)
EXPECTS = {
    "lint_ok": False,
    "lint_ok_with": False,
    "lint_errors": True,
    "lint_errors_with": True,
    "fix_sql": True,
    "fix_sql_with": True,
}
#: squawk's default PostgreSQL version in its tests (LinterSettings::default)
TEST_PG_DEFAULT = 15


@dataclasses.dataclass(frozen=True)
class SquawkTest:
    """One lint call of one squawk test function."""

    #: `file.rs::test_name` (with `#n` when the function lints more than once)
    name: str
    #: the squawk rule, as its CLI names it
    rule: str
    sql: str
    #: what the test (and its snapshot) expects of squawk: findings or none
    expects_findings: bool
    assume_in_transaction: bool
    #: the PostgreSQL version the test lints for
    pg_version: int


@dataclasses.dataclass(frozen=True)
class Extracted:
    tests: tuple[SquawkTest, ...]
    #: test functions read but not used, with why
    skipped: tuple[str, ...]
    commit: str


# -- a lexer for just enough Rust ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Token:
    kind: str  # "str", "ident", "punct"
    text: str


_RAW = re.compile(r'r(#*)"')
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CHAR = re.compile(r"'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _plain_string(source: str, start: int) -> tuple[str, int]:
    """The value of the `"..."` literal opening at `start`, and the index after it."""
    out: list[str] = []
    i = start + 1
    while source[i] != '"':
        if source[i] != "\\":
            out.append(source[i])
            i += 1
            continue
        nxt = source[i + 1]
        if nxt == "\n":  # a line continuation skips the newline and the next indent
            i += 2
            while source[i] in " \t\n\r":
                i += 1
        elif nxt == "u":
            end = source.index("}", i)
            out.append(chr(int(source[i + 3 : end], 16)))
            i = end + 1
        elif nxt == "x":
            out.append(chr(int(source[i + 2 : i + 4], 16)))
            i += 4
        else:
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
    return "".join(out), i + 1


def tokens(source: str) -> Iterator[Token]:
    i = 0
    while i < len(source):
        c = source[i]
        if c.isspace():
            i += 1
        elif source.startswith("//", i):
            newline = source.find("\n", i)
            i = len(source) if newline < 0 else newline
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif (raw := _RAW.match(source, i)) and (i == 0 or not source[i - 1].isalnum()):
            close = '"' + raw.group(1)
            end = source.index(close, raw.end())
            yield Token("str", source[raw.end() : end])
            i = end + len(close)
        elif c == '"':
            value, i = _plain_string(source, i)
            yield Token("str", value)
        elif c == "'":
            char = _CHAR.match(source, i)
            i = char.end() if char else i + 1  # a char literal, or a lifetime's quote
        elif ident := _IDENT.match(source, i):
            yield Token("ident", ident.group())
            i = ident.end()
        else:
            yield Token("punct", c)
            i += 1


# -- test functions and their lint calls ---------------------------------------------------


def _kebab(variant: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", variant).lower()


def _body(toks: Sequence[Token], open_at: int) -> int:
    """The index of the `}` closing the `{` at `open_at`."""
    depth = 0
    for j in range(open_at, len(toks)):
        if toks[j].kind == "punct" and toks[j].text in "{}":
            depth += 1 if toks[j].text == "{" else -1
            if depth == 0:
                return j
    return len(toks) - 1


def test_functions(toks: Sequence[Token]) -> Iterator[tuple[str, Sequence[Token]]]:
    """(name, body tokens) of every `#[test] fn name() { ... }`."""
    for i in range(len(toks) - 3):
        if [t.text for t in toks[i : i + 4]] != ["#", "[", "test", "]"]:
            continue
        j = i + 4
        while j < len(toks) and toks[j].text != "fn":
            j += 1
        name = toks[j + 1].text
        brace = j
        while toks[brace].text != "{":
            brace += 1
        yield name, toks[brace + 1 : _body(toks, brace)]


def _arguments(body: Sequence[Token], open_at: int) -> list[list[Token]]:
    """The comma-separated arguments of the call whose `(` is at `open_at`."""
    args: list[list[Token]] = [[]]
    depth = 0
    for tok in body[open_at:]:
        if tok.kind == "punct" and tok.text in "([{":
            depth += 1
            if depth == 1:
                continue
        elif tok.kind == "punct" and tok.text in ")]}":
            depth -= 1
            if depth == 0:
                break
        if depth == 1 and tok.text == "," and tok.kind == "punct":
            args.append([])
        else:
            args[-1].append(tok)
    return args


def _settings(args: Sequence[Token], bound: dict[str, list[Token]]) -> tuple[bool, int | None]:
    """assume_in_transaction and pg_version of a LinterSettings argument (or a variable)."""
    toks = list(args)
    if len(toks) == 1 and toks[0].kind == "ident" and toks[0].text in bound:
        toks = bound[toks[0].text]
    texts = [t.text for t in toks]
    in_tx = False
    version = None
    for k, text in enumerate(texts):
        if text == "assume_in_transaction" and k + 2 < len(texts):
            in_tx = texts[k + 2] == "true"
        if text == "pg_version" and k + 2 < len(toks) and toks[k + 2].kind == "str":
            version = int(toks[k + 2].text.split(".")[0])
    return in_tx, version


@dataclasses.dataclass(frozen=True)
class Helper:
    """A function a test calls to lint: squawk's test_utils or a test module's wrapper."""

    expects_findings: bool
    #: the rule the wrapper names, when it names one
    rule: str | None = None


def _call_rule(args: Sequence[Sequence[Token]]) -> str | None:
    texts = [tok.text for arg in args for tok in arg]
    return next((_kebab(texts[n + 3]) for n, t in enumerate(texts[:-3]) if t == "Rule"), None)


def _bindings(body: Sequence[Token]) -> dict[str, list[Token]]:
    """`let name = value;` of a function body: name -> the value's tokens."""
    bound: dict[str, list[Token]] = {}
    for k, tok in enumerate(body):
        if tok.text != "let" or k + 3 >= len(body) or body[k + 2].text != "=":
            continue
        end, depth = k + 3, 0
        while end < len(body) and not (body[end].text == ";" and depth == 0):
            if body[end].kind == "punct" and body[end].text in "([{":
                depth += 1
            elif body[end].kind == "punct" and body[end].text in ")]}":
                depth -= 1
            end += 1
        bound[body[k + 1].text] = list(body[k + 3 : end])
    return bound


def lint_calls(
    body: Sequence[Token], helpers: dict[str, Helper], module_rule: str | None
) -> Iterator[tuple[str, str, bool, bool, int | None]]:
    """(rule, sql, expects findings, assume in transaction, pg version) of each lint call."""
    bound = _bindings(body)
    for k, tok in enumerate(body[:-1]):
        helper = helpers.get(tok.text) if tok.kind == "ident" else None
        if helper is None or body[k + 1].text != "(":
            continue
        args = _arguments(body, k + 1)
        sql = _sql_of(args[0], bound)
        rule = _call_rule(args) or helper.rule or module_rule
        if sql is None or rule is None:
            continue
        in_tx, version = _settings([t for arg in args[1:] for t in arg], bound)
        yield rule, sql, helper.expects_findings, in_tx, version


def local_helpers(toks: Sequence[Token]) -> dict[str, Helper]:
    """The test utilities and every function of the file that calls one (a wrapper)."""
    helpers = {name: Helper(expects) for name, expects in EXPECTS.items()}
    for k in range(len(toks) - 2):
        if toks[k].text != "fn" or toks[k + 1].text in helpers:
            continue
        brace = k
        while brace < len(toks) and toks[brace].text not in "{;":
            brace += 1
        if brace >= len(toks) or toks[brace].text != "{":
            continue
        body = toks[brace + 1 : _body(toks, brace)]
        for j, tok in enumerate(body[:-1]):
            if tok.text in EXPECTS and body[j + 1].text == "(":
                rule = _call_rule(_arguments(body, j + 1))
                helpers[toks[k + 1].text] = Helper(EXPECTS[tok.text], rule)
                break
    return helpers


def _sql_of(arg: Sequence[Token], bound: dict[str, list[Token]]) -> str | None:
    """The literal SQL of an argument: a string, or a variable bound to exactly one."""
    toks = [t for t in arg if t.text != "&"]
    if toks and toks[0].kind == "str":
        return toks[0].text
    if toks and toks[0].kind == "ident" and toks[0].text in bound:
        value = bound[toks[0].text]
        if len(value) == 1 and value[0].kind == "str":
            return value[0].text
    return None


def module_rule(toks: Sequence[Token]) -> str | None:
    """The rule most named in a file (for local helpers that name it once for all tests)."""
    counts: dict[str, int] = {}
    for k in range(len(toks) - 3):
        if toks[k].text == "Rule" and toks[k + 1].text == ":" and toks[k + 3].kind == "ident":
            counts[toks[k + 3].text] = counts.get(toks[k + 3].text, 0) + 1
    return _kebab(max(counts, key=lambda v: counts[v])) if counts else None


def _git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def extract(git_dir: Path) -> Extracted:
    """Every lint call with literal SQL in the rules' test modules at the snapshot's HEAD."""
    names = _git(git_dir, "ls-tree", "--name-only", f"HEAD:{RULES_DIR}").split()
    tests: list[SquawkTest] = []
    skipped: list[str] = []
    for file in sorted(n for n in names if n.endswith(".rs") and n != "mod.rs"):
        source = _git(git_dir, "show", f"HEAD:{RULES_DIR}/{file}")
        toks = list(tokens(source))
        default_rule = module_rule(toks)
        helpers = local_helpers(toks)
        for name, body in test_functions(toks):
            calls = list(lint_calls(body, helpers, default_rule))
            if not calls:
                skipped.append(f"{file}::{name}")
            for n, (rule, sql, expects, in_tx, version) in enumerate(calls):
                label = f"{file}::{name}" + (f"#{n + 1}" if len(calls) > 1 else "")
                tests.append(
                    SquawkTest(label, rule, sql, expects, in_tx, version or TEST_PG_DEFAULT)
                )
    commit = _git(git_dir, "log", "-1", "--format=%h (%cs)", "HEAD").strip()
    return Extracted(tuple(tests), tuple(skipped), commit)
