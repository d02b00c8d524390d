"""Reading a finding from a user's tool answer: the one rule the truth pass, the scorer and the oracle share.

A task whose tools are the user's own code cannot give its answers as templates; it says instead how to tell
a finding from an answer (a tool entry's `finding`, docs/task-files.md):
- a text answer is a finding where `pattern` matches (re.search), and the group `severity_group` is its
  severity (lower-cased), or the tool's single `severity`;
- a dict answer is a finding unless its `field`'s value (as text) is in `clear`, and `severity_field` holds
  its severity.
`read` applies the rule in Python; `code` writes the same rule as Python the oracle's RLM runs in the sandbox.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reading:
    """What one answer says, by the matcher."""

    found: bool
    severity: str | None
    """A finding's severity as the answer gives it, lower case; None for a clear answer, or when the tool's
    single severity applies."""


@dataclass(frozen=True)
class FindingMatcher:
    pattern: str | None = None
    """Text answers: a regular expression that matches a finding's answer."""
    severity_group: int | str | None = None
    """The pattern's group (number or name) that holds the severity; None: the tool's single severity."""
    field: str | None = None
    """Dict answers: the field whose value says whether the answer is a finding."""
    clear: tuple[str, ...] = ()
    """Dict answers: the field's values (as text) that mean no finding."""
    severity_field: str | None = None
    """Dict answers: the field that holds the severity; None: the tool's single severity."""

    @property
    def reads_dicts(self) -> bool:
        return self.field is not None

    def read(self, answer: object) -> Reading:
        """A finding or not, and its severity. A dict answer to a pattern is read as its JSON text, and a text
        answer that is a JSON object is read as the dict, since that is how either is shown to a model."""
        if self.reads_dicts:
            data = answer if isinstance(answer, dict) else _as_dict(answer)
            if data is None or str(data.get(self.field)) in self.clear:
                return Reading(False, None)
            return Reading(True, None if self.severity_field is None else str(data.get(self.severity_field, "")).lower())
        text = answer if isinstance(answer, str) else json.dumps(answer)
        match = re.search(self.pattern, text)
        if match is None:
            return Reading(False, None)
        return Reading(True, None if self.severity_group is None else (match.group(self.severity_group) or "").lower())

    def code(self, var: str) -> tuple[list[str], str, str]:
        """(lines to run first, the found test, the severity expression or '') reading the answer in `var`, for the
        oracle's sandboxed code; the same rule as `read`."""
        if self.reads_dicts:
            lines = [f"_d = {var} if isinstance({var}, dict) else None",
                     f"if _d is None and isinstance({var}, str) and {var}.lstrip().startswith('{{'):",
                     "    try:",
                     f"        _d = json.loads({var})",
                     "    except ValueError:",
                     "        _d = None",
                     f"_found = isinstance(_d, dict) and str(_d.get({self.field!r})) not in {list(self.clear)!r}"]
            severity = "" if self.severity_field is None else f"str(_d.get({self.severity_field!r}, '')).lower()"
            return lines, "_found", severity
        lines = [f"_m = re.search({self.pattern!r}, {var} if isinstance({var}, str) else json.dumps({var}))"]
        severity = "" if self.severity_group is None else f"(_m.group({self.severity_group!r}) or '').lower()"
        return lines, "_m", severity


def _as_dict(text: object) -> dict | None:
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def matcher_problem(matcher: FindingMatcher) -> tuple[str, str] | None:
    """(field, problem) when the matcher cannot work: a pattern that does not compile or lacks its group, both or
    neither of pattern and field, dict-only settings on a pattern."""
    if (matcher.pattern is None) == (matcher.field is None):
        return "", "give either `pattern` (text answers) or `field` (dict answers)"
    if matcher.pattern is None:
        if matcher.severity_group is not None:
            return "severity_group", "only a `pattern` has groups; a dict's severity is `severity_field`"
        return None
    if matcher.clear or matcher.severity_field is not None:
        return ("clear" if matcher.clear else "severity_field"), "only a `field` matcher reads dict answers"
    try:
        compiled = re.compile(matcher.pattern)
    except re.error as exc:
        return "pattern", f"not a regular expression: {exc}"
    group = matcher.severity_group
    if isinstance(group, int) and not 0 < group <= compiled.groups:
        return "severity_group", f"the pattern has {compiled.groups} group(s), no group {group}"
    if isinstance(group, str) and group not in compiled.groupindex:
        return "severity_group", f"the pattern has no group named {group!r}"
    return None
