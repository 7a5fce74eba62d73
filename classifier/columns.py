"""Find the columns a fund file uses for each field, by English or Chinese alias (case- and width-insensitive)."""
from __future__ import annotations

from .errors import InputError

# field → aliases, most specific first. Only `name` is required.
ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("fund_code", "基金代码", "代码", "ts_code", "证券代码", "code", "symbol", "基金编码"),
    "name": ("fund_name", "基金名称", "基金简称", "证券简称", "name", "csname", "fund_short_name", "short_name",
             "简称", "名称", "基金"),
    "full_name": ("full_name", "基金全称", "cname", "全称", "fullname"),
    "index_code": ("index_code", "跟踪指数代码", "标的指数代码", "指数代码"),
    "index_name": ("index_name", "跟踪指数名称", "跟踪指数", "标的指数", "标的指数名称", "指数名称"),
    "benchmark": ("benchmark", "业绩比较基准", "比较基准"),
    "fund_type": ("fund_type", "基金类型", "投资类型", "invest_type", "类型", "基金类别"),
}
FIELDS = tuple(ALIASES)


def _key(col: object) -> str:
    from .text import clean  # width, traditional characters, spaces: 基金簡稱 and ＦＵＮＤ＿ＮＡＭＥ are aliases too

    return clean(str(col)).lower()


def detect_columns(columns: list, source: str = "input", name_column: str | None = None) -> dict[str, int]:
    """Map each field to the position of its column.

    A field's alias list is tried in order; the first alias present wins. Positions (not names) are returned so that
    duplicate headers stay distinct.

    Raises
    ------
    InputError
        when no column can serve as the fund name, listing the columns found.

    Examples
    --------
    >>> detect_columns(["基金代码", "基金简称", "跟踪指数"])
    {'code': 0, 'name': 1, 'index_name': 2}
    """
    keys = [_key(c) for c in columns]
    found: dict[str, int] = {}
    used: set[int] = set()
    if name_column is not None:
        if name_column not in columns:
            raise InputError(f"{source}: --name-column '{name_column}' not found; columns are "
                             f"{', '.join(repr(str(c)) for c in columns[:20])}")
        found["name"] = list(columns).index(name_column)
        used.add(found["name"])
    for fld, aliases in ALIASES.items():
        if fld in found:
            continue
        for alias in aliases:
            a = _key(alias)
            pos = next((i for i, k in enumerate(keys) if k == a and i not in used), None)
            if pos is not None:
                found[fld] = pos
                used.add(pos)
                break
    if "name" not in found:
        shown = ", ".join(repr(str(c)) for c in columns[:20]) or "(none)"
        raise InputError(f"{source}: no fund-name column. Columns are: {shown}. Name one of them "
                         f"{'/'.join(ALIASES['name'][:6])}, or pass --name-column.")
    return found


def is_alias(col: object, fld: str) -> bool:
    """Whether a column (or index) named ``col`` is one of ``fld``'s aliases.

    >>> is_alias("基金代码", "code"), is_alias("fund_name", "code")
    (True, False)
    """
    return _key(col) in {_key(a) for a in ALIASES[fld]}


def header_score(row: list) -> int:
    """How many cells of a row are known aliases (used to find the header row under a merged title)."""
    all_aliases = {_key(a) for al in ALIASES.values() for a in al}
    return sum(1 for c in row if _key(c) in all_aliases)
