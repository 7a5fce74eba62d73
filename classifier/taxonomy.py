"""Load and validate a taxonomy file (TOML) into an immutable :class:`Taxonomy`.

The taxonomy's words live in ``taxonomy/*.toml``; this module only reads them. Loading checks the whole file and
raises one :class:`TaxonomyError` listing every problem with its place (file, line, table), so that a broken file can
be fixed in one pass.
"""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .config import default_path, shipped_path, taxonomy_configured_by_user, taxonomy_files
from .workspace import data_path, readable, user_path
from .errors import TaxonomyError
from .text import clean

HEAD_RX = r"^\[taxonomy\]"
DEFAULT_TAXONOMY = shipped_path("taxonomy")  # the report taxonomy shipped with the tool (defaults.toml [paths])


@dataclass(frozen=True)
class ClassDef:
    primary: str
    secondary: str
    keywords: tuple[str, ...]
    scope: str = ""
    report_count: int | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    secondary: str
    tier_name: str
    tier: int
    terms: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    code: object = None  # a compiled RE2 pattern (search, pattern)
    asset_class: str | None = None
    note: str = ""
    line: int = 0
    contested: str = ""  # a class careful readers also pick where this rule decides (a genuine two-way split)


@dataclass(frozen=True)
class Taxonomy:
    """A two-level taxonomy: classes, rules and out-of-scope asset classes, with a content hash."""

    id: str
    version: str
    name: str
    path: str
    sha256: str
    not_applicable: str
    classes: tuple[ClassDef, ...]
    rules: tuple[Rule, ...]
    out_of_scope: dict[str, str] = field(default_factory=dict)

    @property
    def secondaries(self) -> list[str]:
        return [c.secondary for c in self.classes]

    @property
    def primaries(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.classes:
            seen.setdefault(c.primary, None)
        return list(seen)

    def primary_of(self, secondary: str) -> str:
        if secondary == self.not_applicable:
            return self.not_applicable
        for c in self.classes:
            if c.secondary == secondary:
                return c.primary
        raise KeyError(secondary)

    @property
    def labels(self) -> list[str]:
        """Every label a fund can carry: the secondaries plus the out-of-scope label."""
        return self.secondaries + [self.not_applicable]

    def terms(self) -> list[str]:
        """All words of the taxonomy (keywords and rule terms), for the tokenizer's user dictionary."""
        words = {k for c in self.classes for k in c.keywords} | {t for r in self.rules for t in r.terms}
        return sorted(words)


def _line_of(text_lines: list[str], pattern: str, start: int = 0) -> int:
    rx = re.compile(pattern)
    for i in range(start, len(text_lines)):
        if rx.search(text_lines[i]):
            return i + 1
    return 0


def _table_lines(text_lines: list[str], header: str) -> list[int]:
    """1-based line numbers of each ``[[header]]`` table, in order."""
    return [i + 1 for i, ln in enumerate(text_lines) if ln.strip() == f"[[{header}]]"]


def _str_list(value, where: str, key: str, problems: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{where}: '{key}' must be a list of non-empty strings")
        return ()
    return tuple(value)


def _terms(value, where: str, key: str, problems: list[str]) -> tuple[str, ...]:
    """Rule terms normalized exactly as input text is (NFKC, simplified Chinese, no spaces, upper-case Latin), so
    that 醫藥, ｅｔｆ or 沪深 300 in a taxonomy file match what they say; duplicates once normalized are dropped."""
    out: dict[str, None] = {}
    for v in _str_list(value, where, key, problems):
        c = clean(v)
        if not c:
            problems.append(f"{where}: {key} term {v!r} is empty once normalized")
        else:
            out.setdefault(c, None)
    return tuple(out)


def _code_pattern(pattern, where: str, problems: list[str]):
    """A rule's index-code pattern, compiled by RE2: matching takes time linear in the text whatever the pattern
    (``^(A+)+$`` cannot hang tagging on ``AAAA…!``). RE2 has no backreferences or look-arounds; a pattern that
    needs them is refused with the reason."""
    import re2  # google-re2

    if not isinstance(pattern, str) or not pattern:
        problems.append(f"{where}: 'code' must be a non-empty regular expression string")
        return None
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        problems.append(f"{where}: 'code' is not a regular expression RE2 accepts ({reason}); no backreferences "
                        f"or look-arounds")
        return None


def _tables(data: dict, key: str, p: Path, problems: list[str]) -> list[dict]:
    """``[[key]]`` tables, or [] with a problem when the file gives something else under that name."""
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append(f"{p}: '{key}' must be written as [[{key}]] tables (an array of tables), not as "
                        f"{type(value).__name__ if not isinstance(value, list) else 'a list of values'}")
        return []
    return value


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read, validate and return the taxonomy at ``path`` (default: :func:`default_taxonomy_path`).

    Raises
    ------
    TaxonomyError
        listing every problem found, each with the file, line and table it is in.
    """
    if not path:
        return load_taxonomy(default_taxonomy_path())
    p = readable(path)
    try:
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{p}: cannot read taxonomy file ({exc.strerror})") from exc
    # the taxonomy is a function of the path it names and the file's bytes alone, and immutable: a command reads it
    # more than once (the command, then the model's loader; a review import, then the tagging), and the parse and
    # its checks cost ~12 ms each time. Read again when the bytes change; a file with problems is not kept.
    key = (str(p), hashlib.sha256(raw_bytes).hexdigest())
    tax = _LOADED.get(key)
    if tax is None:
        tax = _parse(p, raw_bytes, key[1])
        if len(_LOADED) >= 16:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = tax
    return tax


def default_taxonomy_path() -> Path:
    """The taxonomy file a command given no ``--taxonomy`` uses: ``[paths].taxonomy`` of the configuration (the
    workspace's copy, else the shipped one), or, when ``[taxonomies]`` names a file for that taxonomy's id (the file the
    workspace's labeled set was migrated to, which ``taxonomy migrate`` records in the workspace's ``fundclass.toml``),
    that file (relative to the workspace). A ``--config`` file that sets ``[paths].taxonomy`` itself wins."""
    configured = data_path(default_path("taxonomy"))
    files = taxonomy_files()
    if not files or taxonomy_configured_by_user():
        return configured
    tid = load_taxonomy(configured).id
    if tid not in files:  # another taxonomy's current file (E Fund's): not this one's
        return configured
    given, source = files[tid]
    p = Path(given).expanduser()
    p = p if p.is_absolute() else user_path(given)
    if not p.is_file():
        raise TaxonomyError(f"{source}: [taxonomies] {tid} = {given!r}, the taxonomy file commands use in place of "
                            f"{configured.name}, is not there ({p}); put it back, or pass --taxonomy FILE, or delete "
                            f"that line to use {configured.name} again")
    if load_taxonomy(p).id != tid:  # the file or the line edited since: it would tag with another taxonomy unasked
        raise TaxonomyError(f"{source}: [taxonomies] {tid} = {given!r} is a file of taxonomy {load_taxonomy(p).id}, "
                            f"not {tid}; name a version of {tid} there, or delete that line")
    return p


_LOADED: dict[tuple[str, str], Taxonomy] = {}  # (path, sha256 of its bytes) -> the taxonomy read from them


def _parse(p: Path, raw_bytes: bytes, sha256: str) -> Taxonomy:
    try:
        text = raw_bytes.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise TaxonomyError(f"{p}: taxonomy file is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TaxonomyError(f"{p}: not valid TOML: {exc}") from exc

    lines = text.splitlines()
    problems: list[str] = []
    head = data.get("taxonomy")
    if not isinstance(head, dict):
        raise TaxonomyError(f"{p}: missing [taxonomy] table (id, version, name)")
    for key in ("id", "version", "name"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            problems.append(f"{p}:{_line_of(lines, HEAD_RX)}: [taxonomy] needs a non-empty '{key}'")
    na = head.get("not_applicable", "不适用")
    if not isinstance(na, str) or not na.strip() or re.search(r"[\s:;]", na):
        problems.append(f"{p}:{_line_of(lines, HEAD_RX)}: [taxonomy] not_applicable must be a label (a non-empty "
                        f"string without spaces, ':' or ';'), got {na!r}")
        na = "不适用"

    tiers = data.get("tiers", {})
    if not isinstance(tiers, dict) or not all(isinstance(v, int) for v in tiers.values()):
        problems.append(f"{p}: [tiers] must map tier names to integers")
        tiers = {}

    # classes
    classes: list[ClassDef] = []
    class_lines = _table_lines(lines, "class")
    seen_secondary: dict[str, int] = {}
    keyword_owner: dict[str, tuple[str, int]] = {}
    raw_classes = _tables(data, "class", p, problems)
    if not raw_classes:
        problems.append(f"{p}: no [[class]] tables")
    for i, c in enumerate(raw_classes):
        ln = class_lines[i] if i < len(class_lines) else 0
        where = f"{p}:{ln}: [[class]] #{i + 1}"
        prim, sec = c.get("primary"), c.get("secondary")
        if not isinstance(sec, str) or not sec.strip():
            problems.append(f"{where}: missing 'secondary' label")
            continue
        where = f"{where} '{sec}'"
        if not isinstance(prim, str) or not prim.strip():
            problems.append(f"{where}: secondary class without a 'primary'")
            continue
        if re.search(r"\s", sec) or re.search(r"\s", prim):
            problems.append(f"{where}: labels must not contain spaces")
        if re.search(r"[:;]", sec + prim):
            problems.append(f"{where}: labels must not contain ':' or ';' (they separate labels in `alternatives`)")
        rc = c.get("report_count")
        if rc is not None and (not isinstance(rc, int) or isinstance(rc, bool) or rc < 0):
            problems.append(f"{where}: report_count must be a whole number, got {rc!r}")
        if sec == na or prim == na:
            problems.append(f"{where}: '{na}' is reserved for out-of-scope funds")
        if sec in seen_secondary:
            problems.append(f"{where}: duplicate class (first defined at line {seen_secondary[sec]})")
            continue
        seen_secondary[sec] = ln
        kws = _str_list(c.get("keywords"), where, "keywords", problems)
        for k in kws:
            if k in keyword_owner and keyword_owner[k][0] != sec:
                other, oln = keyword_owner[k]
                problems.append(f"{where}: keyword '{k}' also belongs to '{other}' (line {oln}); a keyword must name one class")
            keyword_owner.setdefault(k, (sec, ln))
        classes.append(ClassDef(prim, sec, kws, str(c.get("scope", "")), c.get("report_count")))

    # rules
    rules: list[Rule] = []
    rule_lines = _table_lines(lines, "rule")
    seen_rule: dict[str, int] = {}
    term_owner: dict[tuple[int, str], tuple[str, str, int]] = {}
    raw_rules = _tables(data, "rule", p, problems)
    if not raw_rules and not problems:
        problems.append(f"{p}: no [[rule]] tables: the rule layer would decide nothing")
    for i, r in enumerate(raw_rules):
        ln = rule_lines[i] if i < len(rule_lines) else 0
        rid = r.get("id")
        where = f"{p}:{ln}: [[rule]] '{rid}'" if rid else f"{p}:{ln}: [[rule]] #{i + 1}"
        if not isinstance(rid, str) or not rid:
            problems.append(f"{where}: missing 'id'")
            continue
        if rid in seen_rule:
            problems.append(f"{where}: duplicate rule id (first at line {seen_rule[rid]})")
            continue
        seen_rule[rid] = ln
        sec = r.get("class")
        if sec not in seen_secondary:
            problems.append(f"{where}: class '{sec}' is not a [[class]] of this taxonomy")
            continue
        tier_name = r.get("tier")
        if tier_name not in tiers:
            problems.append(f"{where}: tier '{tier_name}' is not in [tiers] ({', '.join(tiers) or 'none defined'})")
            continue
        terms = _terms(r.get("terms"), where, "terms", problems)
        unless = _terms(r.get("unless"), where, "unless", problems)
        code = None
        if r.get("code") is not None:
            code = _code_pattern(r["code"], where, problems)
        asset = r.get("asset_class")
        if asset is not None and not isinstance(asset, str):
            problems.append(f"{where}: 'asset_class' must be a string")
            asset = None
        if not terms and code is None and asset is None:
            problems.append(f"{where}: a rule needs 'terms', 'code' or 'asset_class'")
        tier = tiers[tier_name]
        for t in terms:
            key = (tier, t)
            if key in term_owner and term_owner[key][0] != sec:
                osec, orid, oln = term_owner[key]
                problems.append(f"{where}: term '{t}' also votes for '{osec}' in rule '{orid}' (line {oln}) at the same "
                                f"tier '{tier_name}'; give one rule another tier or drop the term")
            term_owner.setdefault(key, (sec, rid, ln))
        contested = r.get("contested", "")
        if contested and (contested not in seen_secondary or contested == sec):
            problems.append(f"{where}: contested = '{contested}' must be another [[class]] of this taxonomy")
            contested = ""
        rules.append(Rule(rid, sec, tier_name, tier, terms, unless, code, asset, str(r.get("note", "")), ln,
                          contested))

    oos = {}
    for i, o in enumerate(_tables(data, "out_of_scope", p, problems)):
        ac = o.get("asset_class")
        if not isinstance(ac, str) or not ac:
            problems.append(f"{p}:{_table_lines(lines, 'out_of_scope')[i]}: [[out_of_scope]] needs 'asset_class'")
            continue
        oos[ac] = str(o.get("reason", f"{ac}不在分类体系内"))

    if problems:
        raise TaxonomyError(f"{p}: {len(problems)} problem(s) in taxonomy file:\n  " + "\n  ".join(problems))

    return Taxonomy(id=head["id"], version=head["version"], name=head["name"], path=str(p),
                    sha256=sha256, not_applicable=na,
                    classes=tuple(classes), rules=tuple(rules), out_of_scope=oos)


def _shipped_files() -> list[tuple[str, str, str]]:
    """(version, id, path as a user types it) of each taxonomy file shipped with the tool, in file-name order: the
    path is taxonomy/efund2025.toml where that finds the file from here, else the file's own path."""
    out = []
    for p in sorted(Path(DEFAULT_TAXONOMY).parent.glob("*.toml")):
        try:
            head = tomllib.loads(p.read_text(encoding="utf-8")).get("taxonomy", {})
        except (OSError, ValueError):
            continue
        short = Path(p.parent.name) / p.name
        out.append((head.get("version"), str(head.get("id", "")),
                    str(short if readable(short).resolve() == p.resolve() else p)))
    return out


def shipped_of_version(version: str) -> tuple[str, str] | None:
    """The id of the taxonomy file shipped with the tool whose version is ``version``, and that file's path as a user
    types it; None when no shipped file has that version."""
    return next(((tid, path) for v, tid, path in _shipped_files() if v == version), None)


def taxonomy_hint(versions: list[str], what: str = "tagged") -> str:
    """`--taxonomy FILE` for a taxonomy file of one of ``versions`` (:func:`file_of_version`), else a generic hint
    (the file was ``what``: tagged, exported … with it)."""
    found = file_of_version(versions)
    return f"--taxonomy {found}" if found else f"--taxonomy with the file it was {what} with"


def file_of_version(versions: list[str]) -> str | None:
    """The taxonomy file of one of ``versions``, as a user passes it: a shipped one, else the one the configuration's
    ``[taxonomies]`` records for its id (the file `taxonomy migrate` migrated the workspace's labeled set to, named
    as recorded, with the file that records it); None when neither is."""
    found = located_version(versions)
    return found[0] if found else None


def located_version(versions: list[str]) -> tuple[str, Path, str] | None:
    """What :func:`file_of_version` names (as a user passes it), the file's path and its taxonomy id; None when no
    file of one of ``versions`` is known."""
    for v, tid, path in _shipped_files():
        if v in versions:
            return path, readable(path), tid
    for tid, (given, source) in taxonomy_files().items():
        p = Path(given).expanduser()
        p = p if p.is_absolute() else user_path(given)
        try:
            if p.is_file() and load_taxonomy(p).version in versions:
                shown = given if readable(given).resolve() == p.resolve() else str(p)
                return f"{shown} (the file {Path(source).name} records for {tid})", p, tid
        except (OSError, TaxonomyError):
            continue
    return None
