"""Taxonomy changes: show what changed between two taxonomy files, and migrate the labeled set with a mapping file.

A migration file maps every old class that does not keep its name to the new classes it becomes::

    [migration]
    from = "jrj-2026.01-r1"
    to = "jrj-2026.02-r1"

    [map]
    "科技成长主题ETF" = ["科技主题ETF", "成长风格ETF"]   # split: rows go to the review queue
    "周期主题ETF" = ["资源主题ETF"]                      # renamed or merged: rows move automatically
    "民企主题ETF" = []                                   # removed: rows go to the review queue

Rows whose class maps to exactly one new class are relabeled automatically (source=migrated, the old label kept in
the history; a review decision keeps its source, reviewer and date, so the next tag still applies it); rows whose
class was split or removed are taken out of the labeled set and written to a review queue (the review file format,
with the candidate classes as alternatives), never guessed. The queue is grouped by tracked index or family, as `review export`
groups a sheet (the labeled set's groups of one index together, :func:`classifier.review._index_groups`); `review
import` relabels an index's other queued rows with the decision on one of them (:func:`classifier.review.
_queued_in_group`).

The blind reads beside the labeled set (``agreement.csv``, what the confidence is fitted on) follow the same map in the
same transaction (:func:`classifier.agreement.migrate_reads`): a renamed or merged class takes its new name in every
head's label and reads, and the head's agreement is recomputed; a head with a read of a split or removed class becomes
unread (which new class that reader would pick is unknown), and the report says how many.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .agreement import agreement_path, migrate_reads
from .errors import InputError, TaxonomyError
from .io import StagedOutputs, atomic_write_bytes, check_not_input
from .labeled import (HISTORY_COLUMNS, MIGRATION_BY, OPEN_ELSEWHERE, Change, CommitPending, change_labels,
                      migrated_note, migration_pending, outputs_placed, stage_outputs)
from .review import FLAG, REVIEW_COLUMNS, _index_groups, write_review
from .taxonomy import Taxonomy

QUEUE_COLUMNS = [c for c in REVIEW_COLUMNS if c != FLAG]  # a queue holds the labeled set's rows, none of them tagged


# the queue's evidence for a review decision whose class was split or removed: the reviewer decides again, knowing it
EARLIER_DECISION = "迁移前的人工复核: {by} {at} 定为 {secondary}(该类别已拆分或删除); "


def diff(old: Taxonomy, new: Taxonomy) -> list[str]:
    out = [f"{old.id} {old.version} → {new.id} {new.version}"]
    o, n = {c.secondary: c for c in old.classes}, {c.secondary: c for c in new.classes}
    for s in sorted(set(o) - set(n)):
        out.append(f"- removed class {o[s].primary} / {s}")
    for s in sorted(set(n) - set(o)):
        out.append(f"+ added class   {n[s].primary} / {s}")
    for s in sorted(set(o) & set(n)):
        if o[s].primary != n[s].primary:
            out.append(f"~ moved class   {s}: {o[s].primary} → {n[s].primary}")
        add, rem = set(n[s].keywords) - set(o[s].keywords), set(o[s].keywords) - set(n[s].keywords)
        if add or rem:
            out.append(f"~ keywords of {s}: +{sorted(add)} -{sorted(rem)}")
    orules, nrules = {r.id: r for r in old.rules}, {r.id: r for r in new.rules}
    for rid in sorted(set(orules) - set(nrules)):
        out.append(f"- removed rule {rid}")
    for rid in sorted(set(nrules) - set(orules)):
        out.append(f"+ added rule   {rid} → {nrules[rid].secondary}")
    for rid in sorted(set(orules) & set(nrules)):
        a, b = orules[rid], nrules[rid]
        changes = []
        if a.secondary != b.secondary:
            changes.append(f"class {a.secondary} → {b.secondary}")
        if a.tier != b.tier:
            changes.append(f"tier {a.tier_name} → {b.tier_name}")
        if set(a.terms) != set(b.terms):
            changes.append(f"terms +{sorted(set(b.terms) - set(a.terms))} -{sorted(set(a.terms) - set(b.terms))}")
        if set(a.unless) != set(b.unless):
            changes.append("unless changed")
        if (a.code.pattern if a.code else None) != (b.code.pattern if b.code else None):
            changes.append("code pattern changed")
        if changes:
            out.append(f"~ rule {rid}: " + "; ".join(changes))
    if set(old.out_of_scope) != set(new.out_of_scope):
        out.append(f"~ out of scope: {sorted(old.out_of_scope)} → {sorted(new.out_of_scope)}")
    if len(out) == 1:
        out.append("(no changes)")
    return out


@dataclass
class Migration:
    path: str
    from_version: str
    to_version: str
    map: dict[str, list[str]]


def load_migration(path, old: Taxonomy, new: Taxonomy) -> Migration:
    p = Path(path)
    try:
        d = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaxonomyError(f"{p}: cannot read migration file: {exc}") from exc
    head, mp = d.get("migration", {}), d.get("map", {})
    problems = []
    if head.get("from") != old.version:
        problems.append(f"[migration] from = '{head.get('from')}' but the old taxonomy is {old.version}")
    if head.get("to") != new.version:
        problems.append(f"[migration] to = '{head.get('to')}' but the new taxonomy is {new.version}")
    norm = {}
    for k, v in mp.items():
        targets = [v] if isinstance(v, str) else list(v)
        if k not in old.secondaries:
            problems.append(f"[map] '{k}' is not a class of {old.version}")
        for t in targets:
            if t not in new.labels:
                problems.append(f"[map] '{k}' → '{t}': '{t}' is not a class of {new.version}")
        norm[k] = targets
    for s in old.secondaries:
        if s not in norm and s not in new.secondaries:
            problems.append(f"[map] class '{s}' of {old.version} is not in {new.version}: map it (to [] if removed)")
    if norm and old.version == new.version:
        # a label names its taxonomy by version alone: moved under the same one, a migrated set reads as unmigrated
        problems.append(f"{new.path} keeps the version of {old.path}, {old.version}, but [map] moves classes: each "
                        f"label names its taxonomy by version alone, so the migrated set could not be told from the "
                        f"old one (the migration would run again on it, and commands given {old.path} would read its "
                        f"labels as errors); give the new file a new [taxonomy] version and write it in [migration] to")
    if problems:
        raise TaxonomyError(f"{p}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Migration(str(p), head["from"], head["to"], norm)


@dataclass
class MigrationResult:
    kept: int
    moved: int
    queued: int
    warnings: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # what the migration did to agreement.csv ([]: none beside)
    decisions_queued: int = 0  # of the queued rows, review decisions (their reviewer and date in the queue's evidence)
    remembered: bool | None = None  # the workspace's configuration names the new file (None: not asked to)

    def lines(self) -> list[str]:
        decided = (f" ({self.decisions_queued} of them review decisions: the queue's evidence names who decided and "
                   f"when)" if self.decisions_queued else "")
        return ([f"kept {self.kept} rows, relabeled {self.moved} automatically, queued {self.queued} for review"
                 + decided] + self.reads + [f"warning: {w}" for w in self.warnings])


def _migrated_since(labels_path: str | Path, old: Taxonomy, versions: list[str]) -> str:
    """For a set of ``versions`` migrated from ``old`` already (its history says so): that, and the --from of a next
    migration (the file of its version: shipped, or the one the configuration's [taxonomies] records); else ''."""
    from .labeled import migrated_from
    from .taxonomy import file_of_version

    if old.version not in migrated_from(labels_path):
        return ""
    found = file_of_version(versions)
    return (f": it was migrated from {old.version} already; a next migration of it takes "
            + (f"--from {found}" if found else f"the file of {', '.join(versions)} (--from)"))


def check_from(labels_path, old: Taxonomy) -> None:
    """Refuse, before the migration file is read, a ``--from`` the labeled set at ``labels_path`` was migrated from
    already (its history says so): a migration file written for the set's next migration would otherwise be answered
    with problems of its [migration] and [map] against ``old``, as if the file were wrong. :func:`migrate` checks the
    set again under its lock."""
    from .labeled import labels_version

    v = labels_version(labels_path)
    since = _migrated_since(labels_path, old, [v]) if v and v != old.version else ""
    if since:
        raise InputError(f"{labels_path}: holds labels of taxonomy {v}, not {old.version} (--from){since}; nothing "
                         f"migrated")


def migrate(labels_path, migration: Migration, old: Taxonomy, new: Taxonomy, queue_path,
            today: str | None = None, drop_undecided: bool = False,
            remember: tuple[Path, str] | None = None) -> MigrationResult:
    """Migrate the labeled set at ``labels_path`` from ``old`` to ``new`` by ``migration``, writing the review queue to
    ``queue_path``. Refused, nothing written, while funds the previous migration queued are still undecided: its queue
    is of ``old``'s version, which no import accepts once the set is of ``new``'s, and this migration's queue cannot
    take them (the set no longer holds their names and indices), so they would be out of the set for good, unseen;
    ``drop_undecided`` leaves them out knowingly (the report counts them). ``remember``: a file and its new text (the
    workspace's configuration, naming ``new``'s file as its taxonomy's), written whole with the queue and put in place
    once the migration is committed; when it cannot be, the migration stands and ``result.remembered`` is False."""
    today = today or date.today().isoformat()
    reads_path = agreement_path(labels_path)
    check_not_input(queue_path, labels_path, migration.path, old.path, new.path, reads_path)

    def compute(labels: pd.DataFrame):
        labels = labels.copy()
        versions = sorted(set(labels["taxonomy_version"].tolist()) - {""})
        if versions and versions != [old.version]:
            raise InputError(f"{labels_path}: holds labels of taxonomy {', '.join(versions)}, not {old.version} "
                             f"(--from){_migrated_since(labels_path, old, versions)}; nothing migrated")
        undecided = migration_pending(labels_path, set(labels["fund_code"].tolist()))
        if undecided and not drop_undecided:
            raise InputError(
                f"{labels_path}: {len(undecided)} funds the taxonomy migration to {old.version} took out of the labeled "
                f"set are still undecided in its review queue ({_first(undecided)}); migrated to {new.version}, the "
                f"set would leave them out for good: that queue, of {old.version}, can no longer be imported, and "
                f"this migration's queue cannot hold them. Decide them in that queue and import it first "
                f"(`fundclass review import QUEUE --taxonomy {old.path}`), then migrate again; or migrate with "
                f"--drop-undecided to leave them out of the set (their labels before that migration stay in "
                f"history.csv); nothing migrated")
        result, queue_frame, keep_mask, history = _plan(labels, migration, new, today, Path(labels_path).name)
        if undecided:
            result.warnings.append(
                f"{len(undecided)} funds the taxonomy migration to {old.version} queued for review were never decided "
                f"and stay out of the labeled set (--drop-undecided): {_first(undecided)}; their labels before that "
                f"migration are in history.csv, and a review decision on a tagged batch adds a fund again")
        others = []
        if reads_path.exists():  # read under the set's lock: written with the labels, in one commit
            data = reads_path.read_bytes()
            try:
                moved, rep = migrate_reads(data, migration.map, old.version, new.version, str(reads_path))
            except ValueError as exc:
                raise InputError(f"{exc}; nothing migrated") from exc
            result.reads, result.warnings = rep.lines(reads_path.name), result.warnings + rep.warnings(reads_path.name)
            if moved != data:
                others.append((reads_path, moved))
        if len(queue_frame) or remember:  # noted before they are staged: a kill leaves them to the next command
            stage_outputs(labels_path, ([queue_path] if len(queue_frame) else []) + ([remember[0]] if remember else []))
        if len(queue_frame):  # no row of a split or removed class (a keyword added): no queue to review, none written
            with queue.staging():  # written whole now (a full disk stops the migration), put in place once committed
                result.warnings += write_review(queue_frame, queue_path, new.labels)
        if remember:
            with settings.staging():
                atomic_write_bytes(remember[0], lambda tmp: Path(tmp).write_bytes(remember[1].encode("utf-8")))
        return Change(labels[keep_mask].reset_index(drop=True), history, others), result

    # the queue describes the migration: it is put in place only once the labeled set's change is committed, and a
    # migration refused or failed (the set open in Excel, a full disk, a crash) leaves none
    queue, settings = StagedOutputs(), StagedOutputs()
    try:
        result = change_labels(labels_path, compute)
    except CommitPending as pending:  # committed, completed by the next command: its queue is put in place
        _publish_settings(settings)
        queued = bool(queue.files)
        try:
            queue.publish()
        except OSError as exc:
            raise InputError(f"{pending}; {_queue_not_in_place(Path(queue_path), queue, exc, labels_path, new)}") \
                from exc
        finally:
            outputs_placed(labels_path)
        raise InputError(f"{pending}; " + (f"its review queue is {queue_path}" if queued else
                                           "it queued no row for review (no queue written)")) from pending
    except BaseException:
        queue.discard()
        settings.discard()
        outputs_placed(labels_path)
        raise
    result.remembered = _publish_settings(settings) if remember else None
    try:
        queue.publish()
    except OSError as exc:
        raise InputError(_queue_not_in_place(Path(queue_path), queue, exc, labels_path, new)) from exc
    finally:
        outputs_placed(labels_path)
    return result


def _publish_settings(settings: StagedOutputs) -> bool:
    """Put the workspace's configuration file in place after the migration's commit; False (its temp file removed)
    when it cannot be replaced: the migration stands, and the command says what to write by hand."""
    try:
        settings.publish()
        return True
    except OSError:
        settings.discard()
        return False


def _first(codes: list[str], n: int = 20) -> str:
    """The first ``n`` fund codes, comma-separated, then … when there are more."""
    return ", ".join(codes[:n]) + (" …" if len(codes) > n else "")


def _queue_not_in_place(queue_path: Path, queue: StagedOutputs, exc: OSError, labels_path, new: Taxonomy) -> str:
    """What to say when the migration is committed but its review queue cannot replace ``queue_path`` (on Windows,
    an earlier queue of that name open in Excel): the queue is kept under a free name beside it, which the message
    names, as the queue to review."""
    import os

    why = OPEN_ELSEWHERE if isinstance(exc, PermissionError) else f"it cannot be replaced ({exc.strerror or exc})"
    kept = None
    for tmp, _ in queue.files:
        for k in range(1, 100):
            alt = queue_path.with_name(f"{queue_path.stem} ({new.version}{f' {k}' if k > 1 else ''}){queue_path.suffix}")
            if not alt.exists():
                try:
                    os.replace(tmp, alt)
                    kept = alt
                except OSError:
                    pass
                break
    where = (f"the queue is {kept}: review that file (`fundclass review import \"{kept}\" --taxonomy {new.path}`)"
             if kept else "the queue could not be kept either; its funds are the rows history.csv gives this "
             "migration's date with no new class")
    return (f"{queue_path}: {why}; the labeled set {labels_path} is migrated to {new.version} (the change is saved), "
            f"but its review queue could not be put there: {where}")


def _plan(labels: pd.DataFrame, migration: Migration, new: Taxonomy, today: str, name: str = "labels.csv"):
    """Change ``labels`` in place for the 1:1 moves; return the result, the review queue, the rows kept and the
    history rows. ``name``: the labeled set's file name, which the queue's ``row`` names with each row's line."""
    # the migration itself, as one row of no fund: its version, even when it moves no row (a keyword added: the labels
    # only change version), so a review decision withdrawn later finds the labels it replaced, of the version before,
    # carried through it (review._through_migrations reads each migration's old version from history.csv)
    history = [dict.fromkeys(HISTORY_COLUMNS, "") | {
        "old_taxonomy_version": migration.from_version, "changed_by": MIGRATION_BY, "changed_at": today,
        "reason": f"{Path(migration.path).name}: taxonomy {migration.from_version} → {migration.to_version}"}]
    queue = []
    moved = 0
    # classes kept under the same name (or 不适用): the new version and primary, all at once
    same = ~labels["secondary"].isin(list(migration.map))
    labels.loc[same, "taxonomy_version"] = new.version
    labels.loc[same, "primary"] = labels.loc[same, "secondary"].map(
        {c: new.primary_of(c) for c in labels.loc[same, "secondary"].unique()})
    kept = int(same.sum())
    keep_mask = [True] * len(labels)  # every row stays but those of a split or removed class
    for i, r in labels[~same].iterrows():  # the rows of a mapped class, one by one: each is named in the history
        targets = migration.map[r.secondary]
        history.append({"fund_code": r.fund_code, "old_primary": r.primary, "old_secondary": r.secondary,
                        "old_source": r.source, "old_labeled_by": r.labeled_by, "old_labeled_at": r.labeled_at,
                        "old_taxonomy_version": r.taxonomy_version,
                        "new_secondary": targets[0] if len(targets) == 1 else "",
                        "changed_by": MIGRATION_BY, "changed_at": today,
                        "reason": f"{Path(migration.path).name}: {r.secondary} → {targets or 'removed'}",
                        "old_note": r.note, "old_propagated_from": r.propagated_from})
        if len(targets) == 1:
            labels.loc[i, ["primary", "secondary", "taxonomy_version"]] = [new.primary_of(targets[0]), targets[0],
                                                                           new.version]
            if r.source != "review":  # a review decision stays the reviewer's: tagging applies only those
                labels.loc[i, ["source", "labeled_by", "labeled_at", "note"]] = ["migrated", MIGRATION_BY, today,
                                                                                 migrated_note(r.secondary, r.source)]
            moved += 1
        else:
            keep_mask[labels.index.get_loc(i)] = False
            q = {c: r.get(c, "") for c in QUEUE_COLUMNS if c in labels.columns}
            earlier = EARLIER_DECISION.format(by=r.labeled_by, at=r.labeled_at, secondary=r.secondary) \
                if r.source == "review" else ""
            # row: its line in the labeled set (labels.csv:39), where `review import` puts it back (classifier.review.
            # _in_place); a review sheet's row is a line of its tagged file, a number alone
            q.update(row=f"{name}:{labels.index.get_loc(i) + 2}", secondary=r.secondary, primary=r.primary,
                     confidence="", evidence=earlier + r.note,
                     alternatives=";".join(targets) if targets else "(class removed)", taxonomy_version=new.version,
                     decision="", reviewer="", comment="")
            queue.append(q)
    queued = labels[[not k for k in keep_mask]]
    # the groups of one index (the set may keep its ETFs under the index code and its feeders under the index name)
    same = _index_groups(labels) if queue else {}
    queue_frame = _grouped(pd.DataFrame(queue, columns=QUEUE_COLUMNS), queued, same)
    decided = int((queued["source"] == "review").sum())
    return MigrationResult(kept, moved, len(queue_frame), decisions_queued=decided), queue_frame, keep_mask, history


def _grouped(queue: pd.DataFrame, queued: pd.DataFrame, same: dict[str, set] | None = None) -> pd.DataFrame:
    """The queue as `review export` groups a sheet: by tracked index (or family), each index's rows together, the
    indices whose decision settles the most queued rows first. ``group`` stays each row's group in the labeled set
    (`review import` puts a row back in it), and the groups ``same`` says are one index (:func:`classifier.review.
    _index_groups`: the set may keep an index's ETFs under its code and its feeders under its name) are one: their
    rows together, each group's in turn. ``group_size``: the index's queued rows; ``settles``: those one decision on
    the row covers (`review import` relabels the index's other queued rows with it, :func:`classifier.review.
    import_review`), all but the rows of an earlier review decision, decided one by one (a person's decision is not
    replaced by one on another fund): on such a row, its own and the index's other rows. Within a group: the earlier review decisions first, then the fund the others
    follow, then the file's order."""
    if queue.empty:
        return queue
    q = queue.copy()
    same = same or {}
    source = queued["source"].to_numpy()
    own = pd.Series([g or f"fund:{c}" for g, c in zip(q["group"], q["fund_code"])], index=q.index)  # no group: its own
    key = pd.Series([min(same.get(g, {g})) if g else o for g, o in zip(q["group"], own)], index=q.index)
    followed = set(queued["propagated_from"])
    q["_rank"] = [0 if s == "review" else 1 if c in followed or s != "propagated" else 2
                  for s, c in zip(source, q["fund_code"])]
    q["_order"] = range(len(q))
    size = key.map(key.value_counts())
    follow = pd.Series(source != "review", index=q.index).groupby(key).transform("sum")
    # a decision on an earlier review decision's row settles it too (the others never settle it)
    own_row = pd.Series(source == "review", index=q.index).astype(int)
    q["group_size"], q["settles"] = size.astype(str), (follow + own_row).clip(lower=1).astype(str)
    q["_settles"], q["_key"], q["_own"] = follow, key, own
    q = q.sort_values(["_settles", "_key", "_own", "_rank", "_order"], ascending=[False, True, True, True, True],
                      kind="stable")
    return q[QUEUE_COLUMNS].reset_index(drop=True)
