"""Reading a written HTML report back the way a browser would see its structure (stdlib parser only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
# Elements whose end tag HTML5 lets a page leave out; the page does for the cells of a coverage grid.
OPTIONAL_END = {"td", "th", "tr", "li", "p", "option", "thead", "tbody"}


@dataclass
class Page:
    runs: list[dict] = field(default_factory=list)
    """The data-* attributes of every run's <details class="run">."""
    summary_tables: list[list[list[str]]] = field(default_factory=list)
    """Each summary table: its rows (header first), each row's cell texts."""
    scripts: list[tuple[dict, str]] = field(default_factory=list)
    """(attributes, text) of every <script>."""
    links: list[tuple[str, str, str]] = field(default_factory=list)
    """(tag, attribute, value) of every src, href, action or srcset attribute."""
    tags: list[tuple[str, dict]] = field(default_factory=list)
    text: str = ""
    """All text a reader sees, entities decoded."""
    grid_cells: list[list[str]] = field(default_factory=list)
    """Per run, in page order: the class of every check cell of its coverage grids."""
    problems: list[str] = field(default_factory=list)
    """End tags that close nothing open: the page is not well nested."""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.stack: list[str] = []
        self.table: list[list[str]] | None = None
        self.cell: list[str] | None = None
        self.script: tuple[dict, list[str]] | None = None
        self.texts: list[str] = []
        self.in_grid = False
        self.style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.page.tags.append((tag, attrs))
        for name in ("src", "href", "action", "srcset"):
            if name in attrs:
                self.page.links.append((tag, name, attrs[name] or ""))
        classes = (attrs.get("class") or "").split()
        if tag == "details" and "run" in classes:
            self.page.runs.append({k[5:]: v for k, v in attrs.items() if k.startswith("data-")})
            self.page.grid_cells.append([])
        if tag == "table" and "summary" in classes:
            self.table = []
        if tag == "table" and "grid" in classes:
            self.in_grid = True
        if tag == "td" and self.in_grid and classes:
            self.page.grid_cells[-1].append(" ".join(classes))
        if self.table is not None and tag == "tr":
            self.table.append([])
        if self.table is not None and tag in ("td", "th"):
            self.cell = []
        if tag == "script":
            self.script = (attrs, [])
        if tag == "style":
            self.style = True
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if self.table is not None and tag in ("td", "th") and self.cell is not None:
            self.table[-1].append("".join(self.cell).strip())
            self.cell = None
        if tag == "table" and self.table is not None:
            self.page.summary_tables.append(self.table)
            self.table = None
        if tag == "table":
            self.in_grid = False
        if tag == "style":
            self.style = False
        if tag == "script" and self.script is not None:
            self.page.scripts.append((self.script[0], "".join(self.script[1])))
            self.script = None
        if tag in VOID:
            return
        while self.stack and self.stack[-1] != tag and self.stack[-1] in OPTIONAL_END:
            self.stack.pop()
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        else:
            self.page.problems.append(f"</{tag}> closes nothing open (open: {self.stack[-3:]})")

    def handle_data(self, data):
        if self.script is not None:
            self.script[1].append(data)
            return
        if self.style:
            return
        self.texts.append(data)
        if self.cell is not None:
            self.cell.append(data)


def read_page(text: str) -> Page:
    reader = _Reader()
    reader.feed(text)
    reader.close()
    reader.page.text = "".join(reader.texts)
    while reader.stack and reader.stack[-1] in OPTIONAL_END:
        reader.stack.pop()
    if reader.stack:
        reader.page.problems.append(f"never closed: {reader.stack}")
    return reader.page


def text_tables(stdout: str) -> list[list[list[str]]]:
    """Every table of the printed summary: a header line over a line of dashes, columns cut at the dashes."""
    lines = stdout.splitlines()
    tables = []
    for i in range(1, len(lines)):
        if not lines[i].startswith("---"):
            continue
        starts = [j for j, ch in enumerate(lines[i]) if ch == "-" and (j == 0 or lines[i][j - 1] == " ")]
        rows = []
        for line in [lines[i - 1], *lines[i + 1:]]:
            if not line.strip():
                break
            bounds = [*starts[1:], None]
            rows.append([line[a:b].strip() for a, b in zip(starts, bounds)])
        tables.append(rows)
    return tables
