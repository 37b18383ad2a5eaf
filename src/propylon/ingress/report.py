"""The conversion report: one entry per (Ingress, annotation or field) met, and its Markdown.

An entry's outcome is `converted` (the output behaves as ingress-nginx would), `differs` (converted,
and `note` says what differs and why) or `refused` (not convertible: `note` says why and what to
do instead). `markdown(entries)` renders them as the REPORT.md `propylon migrate` writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    CONVERTED = "converted"
    DIFFERS = "differs"
    REFUSED = "refused"


@dataclass(frozen=True)
class ReportEntry:
    ingress: str        # "namespace/name"
    subject: str        # the full annotation name, or a field path such as "spec.tls[0]"
    outcome: Outcome
    note: str = ""

    def line(self) -> str:
        note = f": {self.note}" if self.note else ""
        return f"{self.ingress} {self.subject} {self.outcome}{note}"


def markdown(entries: tuple[ReportEntry, ...], ignored: tuple[str, ...] = ()) -> str:
    """The report as Markdown: counts per outcome, then a table of every entry."""
    counts = {outcome: sum(1 for e in entries if e.outcome is outcome) for outcome in Outcome}
    lines = ["# Ingress conversion report", "",
             ", ".join(f"{n} {outcome}" for outcome, n in counts.items()), ""]
    if entries:
        lines += ["| Ingress | annotation or field | outcome | note |", "|---|---|---|---|"]
        lines += [f"| {e.ingress} | `{e.subject}` | {e.outcome} | {_cell(e.note)} |"
                  for e in entries]
    if ignored:
        lines += ["", "Not converted (not of a converted IngressClass):", ""]
        lines += [f"- {name}" for name in ignored]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
