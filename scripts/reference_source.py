"""``classifier/reference/SOURCE.md`` holds one section per shipped table (a ``## `` heading each, under the file's
title), each written by the script that builds the table: :func:`write_section` replaces one and keeps the others."""
from __future__ import annotations

from pathlib import Path

TITLE = "# Reference tables shipped with the package (derived from the shared raw data, never copied)\n"
MARK = "<!-- section: {} (written by scripts/; do not edit by hand) -->\n"


def write_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` as the section of table ``name`` in ``path`` (sections sorted by table name)."""
    sections: dict[str, str] = {}
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    key = None
    for line in old.splitlines(keepends=True):
        if line.startswith("<!-- section: "):
            key = line[len("<!-- section: "):].split(" ", 1)[0]
            sections[key] = ""
        elif key is not None:
            sections[key] += line
    sections[name] = text.rstrip("\n") + "\n"
    body = "\n".join(MARK.format(k) + sections[k].strip("\n") + "\n" for k in sorted(sections))
    path.write_text(TITLE + "\n" + body, encoding="utf-8", newline="")
