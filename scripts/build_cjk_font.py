"""Build the small CJK font the summary chart ships with (``classifier/fonts/FundclassSansSC-Regular.otf``).

A fresh machine often has no CJK font at all (CI, a server, a container), and matplotlib then draws Chinese labels as
boxes. The chart therefore uses a font shipped inside the package: a subset of Noto Sans CJK SC (SIL Open Font
License 1.1) holding every character of GB 2312 (6,763 hanzi and its symbols), ASCII, Latin-1, general and CJK
punctuation, full-width forms, and every character of the shipped taxonomy files. Outlines only: no hinting and no
OpenType layout tables (matplotlib uses neither for CJK), which keeps it near 1.6 MB.

The subset is a Modified Version under the OFL, so it carries a name of its own (Fundclass Sans SC; the upstream
Reserved Font Name 'Source' is not used) and keeps the copyright and licence records; ``OFL.txt`` sits beside it.

Source used for the shipped file: Debian's ``fonts-noto-cjk`` 1:20220127+repack1-1, Noto Sans CJK SC 2.004
(``NotoSansCJK-Regular.ttc``, face 2). To rebuild::

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb x
    python scripts/build_cjk_font.py x/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "classifier" / "fonts" / "FundclassSansSC-Regular.otf"
FAMILY, POSTSCRIPT = "Fundclass Sans SC", "FundclassSansSC-Regular"
RANGES = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF),
          (0x3000, 0x303F), (0xFF00, 0xFFEF)]


def gb2312() -> set[int]:
    out = set()
    for b1 in range(0xA1, 0xF8):
        for b2 in range(0xA1, 0xFF):
            try:
                out.add(ord(bytes([b1, b2]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return out


def wanted() -> set[int]:
    cps = gb2312()
    for a, b in RANGES:
        cps.update(range(a, b + 1))
    for toml in (ROOT / "taxonomy").glob("*.toml"):
        cps.update(ord(c) for c in toml.read_text(encoding="utf-8") if ord(c) > 0x7F)
    return cps


def sc_face(path: Path) -> TTFont:
    if path.suffix.lower() in (".ttc", ".otc"):
        for f in TTCollection(str(path)).fonts:
            if f["name"].getDebugName(1) == "Noto Sans CJK SC":
                return f
        sys.exit(f"{path}: no 'Noto Sans CJK SC' face in this collection")
    return TTFont(str(path))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="NotoSansCJK-Regular.ttc or NotoSansCJKsc-Regular.otf")
    ap.add_argument("-o", "--output", type=Path, default=OUT)
    a = ap.parse_args(argv)
    font = sc_face(a.source)
    version = font["name"].getDebugName(5)
    cmap = font.getBestCmap()
    cps = {c for c in wanted() if c in cmap}
    opts = subset.Options()
    opts.layout_features = []
    opts.hinting = False
    opts.notdef_outline = True
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=cps)
    sub.subset(font)
    name = font["name"]
    note = f"Subset of Noto Sans CJK SC ({version}) for fund-classifier charts: GB 2312, punctuation, taxonomy labels"
    for rec in list(name.names):
        if rec.nameID in (1, 4, 16):
            name.setName(FAMILY, rec.nameID, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 3:
            name.setName(f"{POSTSCRIPT};{version}", 3, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 6:
            name.setName(POSTSCRIPT, 6, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 10:
            name.setName(note, 10, rec.platformID, rec.platEncID, rec.langID)
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT]
        top = cff.topDictIndex[0]
        top.FullName, top.FamilyName = FAMILY, FAMILY
    a.output.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(a.output))
    print(f"{a.output}: {len(cps)} characters, {a.output.stat().st_size / 1e6:.2f} MB, from {version}")


if __name__ == "__main__":
    main()
