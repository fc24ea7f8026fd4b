"""axe-core in a Playwright page: the accessibility violations of what the page shows now.

axe-core is the npm package pinned in package.json (scripts/setup installs it into
./node_modules). It is run in the page through Playwright's evaluate, which the page's
Content-Security-Policy does not govern (a script tag added to the page would be inline
script, which the portal's policy refuses).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# The rules of WCAG 2.x A and AA and axe's best practices; experimental rules are left out.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@dataclass(frozen=True)
class Violation:
    """One axe rule the page breaks: its id, impact, and the elements that break it."""

    id: str
    impact: str | None
    help: str
    nodes: tuple[str, ...]  # each element's CSS selector, then axe's summary of the fault

    def __str__(self) -> str:
        return f"{self.id} ({self.impact}): {self.help}\n  " + "\n  ".join(self.nodes)


@functools.cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, *, exclude: list[str] | None = None) -> list[Violation]:
    """Run axe-core on the page as it is and return what it finds (empty: no violation).

    `exclude` lists CSS selectors of parts not to check."""
    if not AXE.exists():
        pytest.skip(f"axe-core is not installed ({AXE}): run scripts/setup or npm ci")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_source())
    found = page.evaluate(
        """async ([tags, exclude]) => {
            const context = exclude.length ? {exclude: exclude.map((s) => [s])} : document;
            const result = await axe.run(context, {runOnly: {type: "tag", values: tags}});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary}`),
            }));
        }""",
        [TAGS, exclude or []],
    )
    return [
        Violation(id=v["id"], impact=v["impact"], help=v["help"], nodes=tuple(v["nodes"]))
        for v in found
    ]


def assert_no_violations(page: Page, *, exclude: list[str] | None = None) -> None:
    """Fail with each violation's rule and elements when axe-core finds any."""
    found = violations(page, exclude=exclude)
    assert not found, "axe-core violations on " + page.url + ":\n" + "\n".join(map(str, found))
