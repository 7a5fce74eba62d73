"""The ``fundclass`` command line. Thin: every command parses options and calls one library function.

Library errors (bad file, broken taxonomy, model mismatch) become one line on stderr and exit code 2.
"""
from __future__ import annotations

import errno
import functools
import gc
import os
import sys
import warnings
from pathlib import Path

import click

from .collector import collector_paused
from .config import ENV_CONFIG, default_path, use_config
from .errors import ChangeRecovered, DecisionsNotApplied, FundClassifierError, InputError

READ_HELP = "(default: the workspace's, else the one shipped with the tool)"


def _default_rel(key, taxonomy_path=None) -> str:
    """The configured ``[paths].key``, or, with a ``--taxonomy`` whose it is not (or, without one, the file the
    workspace's labeled set was migrated to: :func:`classifier.taxonomy.default_taxonomy_path`), the model folder or
    labeled set of that taxonomy beside it (:func:`classifier.workspace.for_taxonomy`)."""
    if not taxonomy_path:
        from .taxonomy import default_taxonomy_path
        from .workspace import data_path

        taxonomy_path = default_taxonomy_path()
        if taxonomy_path == data_path(default_path("taxonomy")):  # the configured taxonomy: its configured paths
            return default_path(key)
    from .pipeline import taxonomy_default
    from .taxonomy import load_taxonomy

    return taxonomy_default(key, load_taxonomy(taxonomy_path))


def _read_default(value, key, taxonomy_path=None):
    """A path a command reads: as given (a relative one not found here: the workspace's or the shipped copy, see
    :func:`classifier.workspace.readable`), else the workspace's copy of the configured ``[paths].key`` (of
    ``taxonomy_path``'s, see :func:`_default_rel`), else the shipped one."""
    from .workspace import data_path, readable

    return str(readable(value)) if value else str(data_path(_default_rel(key, taxonomy_path)))


def _in_workspace(key, taxonomy_path=None) -> bool:
    """Whether the workspace has its own copy of the configured ``[paths].key`` (else the shipped one is read)."""
    from .workspace import user_path

    return user_path(_default_rel(key, taxonomy_path)).exists()


def _write_default(value, key, what, taxonomy_path=None):
    """A path a command writes: as given, else the workspace's ``[paths].key`` (of ``taxonomy_path``'s, see
    :func:`_default_rel`); never inside the installed package. Says where."""
    from .workspace import check_writable, user_path

    path = value if value else str(user_path(_default_rel(key, taxonomy_path)))
    check_writable(path)
    click.echo(f"{what}: {path}", err=True)
    return path


# errors of the machine, not of the tool: a read-only folder, no permission, a full disk, an interrupted write
_USER_OS_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EINTR}


def friendly_errors(fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except FundClassifierError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # output piped into `head`: not an error
            sys.stderr.close()
            sys.exit(0)
        except Exception as exc:  # a bug: one line for the user, the traceback with FUNDCLASS_DEBUG=1
            if isinstance(exc, OSError) and exc.errno in _USER_OS_ERRORS:  # not a bug: the cause, on one line
                where = f"{exc.filename}: " if exc.filename else ""
                click.echo(f"error: {where}{exc.strerror or exc}", err=True)
                sys.exit(2)
            if os.environ.get("FUNDCLASS_DEBUG"):
                raise
            click.echo(f"error: internal error ({type(exc).__name__}: {exc}); rerun with FUNDCLASS_DEBUG=1 and report it",
                       err=True)
            sys.exit(1)
    return wrapper


def taxonomy_option(fn):
    return click.option("--taxonomy", "taxonomy_path", type=click.Path(dir_okay=False), default=None,
                        help="Taxonomy file (default: [paths].taxonomy of the configuration, taxonomy/jrj2026.toml; after "
                             "`taxonomy migrate` in this workspace, the file it migrated the labeled set to, as its "
                             "fundclass.toml records).")(fn)


def holdings_options(fn):
    fn = click.option("--sw-map", type=click.Path(dir_okay=False), default=None,
                      help="Shenwan 2021 stock→industry map (default: the dated map shipped with the tool).")(fn)
    return click.option("--holdings", type=click.Path(dir_okay=False), default=None,
                        help="Long holdings file: fund code, stock code, weight % of NAV, optional quarter.")(fn)


def _say_recovered() -> None:
    """Print what became of a change to the labeled set or a model save that a killed command left part way
    (completed or cleared away by this command, :class:`classifier.errors.ChangeRecovered`) as one ``warning:`` line,
    every time."""
    warnings.filterwarnings("always", category=ChangeRecovered)
    show = warnings.showwarning
    if getattr(show, "fundclass", False):
        return

    def say(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, ChangeRecovered):
            click.echo(f"warning: {message}", err=True)
        else:
            show(message, category, filename, lineno, file, line)
    say.fundclass = True
    warnings.showwarning = say


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fund-classifier")
@click.option("--workspace", type=click.Path(file_okay=False), default=None, envvar="FUNDCLASS_WORKSPACE",
              help="Folder that holds your labeled set, review history and models (default: the current folder).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, envvar=ENV_CONFIG,
              help="TOML file overriding any key of classifier/defaults.toml (same sections and keys; "
                   "also $FUNDCLASS_CONFIG).")
@click.pass_context
def cli(ctx, workspace, config_file):
    """Classify Chinese ETFs and index funds into a two-level taxonomy, with confidence and evidence."""
    if workspace and ctx.invoked_subcommand not in (None, "init") and not os.path.isdir(os.path.expanduser(workspace)):
        # a mistyped folder: tag would read the shipped labeled set without the user's decisions, train would make
        # the folder and put a model of the shipped set in it
        raise click.UsageError(f"workspace {workspace} (--workspace or $FUNDCLASS_WORKSPACE): no such folder; pass "
                               f"the folder where you ran `fundclass init`, or make this one a workspace with "
                               f"`fundclass init {workspace}`")
    use_config(config_file)
    # decisions a tagger cannot apply are said once in the run summary (``fundclass tag``), not again as a warning
    warnings.filterwarnings("ignore", category=DecisionsNotApplied)
    _say_recovered()
    if workspace:
        os.environ["FUNDCLASS_WORKSPACE"] = workspace


@cli.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@friendly_errors
def init(folder):
    """Make a workspace: copy the shipped labeled sets into FOLDER (default: the workspace).

    Review decisions, their history and retrained models are written there, never into the installed package. Until
    `fundclass train` writes one there, commands use the model shipped with the tool. Run again after an upgrade: it
    copies the sets shipped since, and removes an unchanged copy of the shipped model an earlier init made.

    Example: fundclass init my-funds && cd my-funds && fundclass review import review.xlsx
    """
    from .config import WORKSPACE_CONFIG, read_overlay
    from .text import counted
    from .workspace import init as make_workspace, own_models, root

    written, kept, removed = make_workspace(folder)
    mine = own_models(folder)  # a model the workspace trained is read instead of the shipped one: said, not hidden
    click.echo(f"workspace {folder or root()}: {counted(len(written), 'file')} copied (data/labeled/); models: "
               + (f"the workspace's own, kept as they are ({', '.join(str(m) for m in mine)}); for a taxonomy without "
                  f"one there, the one shipped with the tool" if mine else
                  "the ones shipped with the tool, until `fundclass train` writes the workspace's own"))
    for k in kept:
        click.echo(f"  kept as it is: {k} (the workspace's own; init never overwrites)")
    own = (Path(folder) if folder else root()) / WORKSPACE_CONFIG
    if own.is_file():  # the workspace's configuration (where a migration records its taxonomy): said, never changed
        try:
            records = read_overlay(own).get("taxonomies")
            what = ("; [taxonomies] " + ", ".join(_recorded_use(tid, f) for tid, f in records.items())
                    if isinstance(records, dict) and records else "")
        except InputError as exc:
            what = f"; it cannot be read: {exc}"
        click.echo(f"  kept as it is: {own} (the workspace's configuration, read by every command run here{what})")
    for m in removed:
        click.echo(f"  removed {m}: an unchanged copy of a shipped model an earlier init made (nothing of yours); the "
                   f"model shipped with this version is used")


def _recorded_use(tid: str, given: str) -> str:
    """What a ``[taxonomies]`` record does, as init says it: the default taxonomy's record is the file every command
    given no --taxonomy uses; another taxonomy's (E Fund's) is not used unasked, it names the file to pass."""
    from .taxonomy import load_taxonomy
    from .workspace import data_path

    try:
        default_id = load_taxonomy(data_path(default_path("taxonomy"))).id
    except FundClassifierError:
        default_id = None
    if tid == default_id:
        return (f'{tid} = "{given}": the taxonomy file `taxonomy migrate` moved the labeled set to, which commands '
                f'given no --taxonomy use')
    return (f'{tid} = "{given}": the taxonomy file `taxonomy migrate` moved the {tid} labeled set to; commands given '
            f'no --taxonomy use {default_id or "[paths].taxonomy"}, so pass --taxonomy {given} to commands of {tid}')


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Output file; its extension (.csv/.xlsx/.parquet) sets the format.")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), default=None,
              help=f"Model folder {READ_HELP}.")
@click.option("--rules-only", is_flag=True, help="Use the keyword-rule layer alone (no trained model).")
@taxonomy_option
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Review threshold (default: the model's, chosen in cross-validation).")
@holdings_options
@click.option("--name-column", default=None, help="Column holding the fund name, when aliases do not find it.")
@click.option("--labeled", type=click.Path(dir_okay=False), default=None,
              help="Labeled set whose review decisions (source=review) override the model for those funds.")
@click.option("--previous", type=click.Path(dir_okay=False), default=None,
              help="The last tagged run of these funds: a fund keeps its previous class unless the new one is "
                   "confident (needs_review false) and different; the evidence says where a class was kept.")
@click.option("--sheet", default=None,
              help="Worksheet of an .xlsx INPUT to read (default: its only visible sheet that holds data).")
@click.option("--raw-csv", is_flag=True,
              help="CSV output for programs: cells as they are, without the ' put before cells that Excel would run "
                   "as formulas (=, +, -, @).")
@click.option("--jobs", type=click.IntRange(0), default=None,
              help="Processes tagging a large file side by side (0: one per CPU core; default: configuration, 0). "
                   "The output is the same.")
@click.option("-s", "--silent", is_flag=True, help="No progress bar or summary.")
@friendly_errors
def tag(input_path, output, model_dir, rules_only, taxonomy_path, threshold, holdings, sw_map, name_column, labeled,
        previous, sheet, raw_csv, jobs, silent):
    """Tag every fund of INPUT and write it, with all its columns, plus category, confidence and evidence.

    Example: fundclass tag examples/new_listings.csv -o tagged.xlsx [--previous last_month.xlsx]
    """
    with collector_paused():
        from .batch import tag_file
        from .io import check_output

        # what the imports made stays to the end: out of the collector's sight (``gc.freeze``, before the pause ends),
        # or its first collections after the pause go over all of it (the fund list: ~40 ms in the first, ~35 ms
        # again in the next older one)
        gc.freeze()

    check_output(output)  # before any work: a read-only folder is reported now, not after the run
    model_dir = None if rules_only else _read_default(model_dir, "model_dir", taxonomy_path)
    shipped_labels = not labeled and not _in_workspace("labeled", taxonomy_path)
    labeled = _read_default(labeled, "labeled", taxonomy_path)
    kwargs = dict(model_dir=model_dir, taxonomy_path=taxonomy_path, threshold=threshold, holdings_path=holdings,
                  sw_map_path=sw_map, name_column=name_column, progress=not silent, labels_path=labeled,
                  sheet=sheet, raw_csv=raw_csv, jobs=jobs)
    stability = None
    if previous:
        from .stability import tag_file_stable

        summary, stability = tag_file_stable(input_path, output, previous, **kwargs)
    else:
        summary = tag_file(input_path, output, **kwargs)
    for w in dict.fromkeys(summary.warnings + (stability.warnings if stability else [])):  # once, not per chunk
        click.echo(f"warning: {w}", err=True)
    if not silent:
        click.echo("\n".join(summary.lines()), err=True)
        if shipped_labels:
            from .workspace import user_path

            mine = user_path(_default_rel("labeled", taxonomy_path))
            click.echo(f"  (the labeled set shipped with the tool: this workspace has no {mine}; decisions you "
                       f"imported live in the workspace where you ran `fundclass init`: run from there, or pass "
                       f"--workspace DIR or --labeled FILE)", err=True)
        if stability:
            click.echo(stability.lines()[0], err=True)
        click.echo(f"wrote {output}", err=True)


@cli.command()
@click.option("--labeled", type=click.Path(dir_okay=False), default=None, help=f"Labeled set {READ_HELP}.")
@taxonomy_option
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Model folder to write (default: the workspace's folder of the --taxonomy's model: models/default "
                   "for the configured taxonomy, models/efund for E Fund's, also after a migration).")
@holdings_options
@click.option("--no-holdings", is_flag=True, help="Train without holdings (not even the shipped holdings table).")
@click.option("--compare-to", type=click.Path(file_okay=False), default=None,
              help="A previous model directory: print its cross-validated figures beside the new ones.")
@click.option("--target-precision", type=click.FloatRange(0.5, 1.0), default=None,
              help="Without reader agreement beside the labels: precision of auto-accepted rows the review threshold "
                   "must reach in CV (default: configuration).")
@click.option("--target-agreement", type=click.FloatRange(0.5, 1.0), default=None,
              help="With reader agreement (agreement.csv beside the labels): share of auto-accepted rows a blind "
                   "reader must agree with, out of fold, at the review threshold (default: configuration, 0.99).")
@click.option("--index-reads/--no-index-reads", default=None,
              help="Train also on the blind reads of indices no labeled fund tracks (one row per index whose readers' "
                   "majority is a class; figures stay the labeled set's) (default: configuration, [train] "
                   "index_reads).")
@friendly_errors
def train(labeled, taxonomy_path, out_dir, holdings, sw_map, no_holdings, compare_to, target_precision,
          target_agreement, index_reads):
    """Train the fused model from the labeled set and write it with its manifest.

    Holdings default to the table shipped with the tool (the funds' industry weights of the 2022 top-10 holdings),
    on every machine the same; --holdings FILE trains on a holdings file instead, --no-holdings on none.

    Example: fundclass train -o models/default
    """
    from .io import check_writable_folder
    from .workflows import run_train

    params = {k: v for k, v in (("target_precision", target_precision), ("target_agreement", target_agreement),
                                ("index_reads", index_reads)) if v is not None} or None
    labeled = _read_default(labeled, "labeled", taxonomy_path)
    out_dir = _write_default(out_dir, "model_dir", "writing the model to", taxonomy_path)
    # before the training, not after it: a folder that cannot take the model is said at once
    check_writable_folder(out_dir, "train: cannot write the model in", "choose another folder with -o")
    for line in run_train(labeled, taxonomy_path, out_dir, holdings, sw_map, no_holdings, compare_to, params):
        click.echo(line)


@cli.command(name="eval")
@click.option("--gold", required=True, type=click.Path(dir_okay=False), help="Labeled file (column 'secondary').")
@click.option("--model", "model_dir", type=click.Path(file_okay=False), default=None,
              help=f"Model folder {READ_HELP}.")
@click.option("--rules-only", is_flag=True)
@taxonomy_option
@holdings_options
@click.option("--out-dir", type=click.Path(file_okay=False), default="eval_report", show_default=True,
              help="Where the markdown report and reliability diagram go.")
@friendly_errors
def eval_cmd(gold, model_dir, rules_only, taxonomy_path, holdings, sw_map, out_dir):
    """Accuracy, macro-F1, per-class precision/recall, confusion matrix and reliability diagram on a gold file.

    Example: fundclass eval --gold data/labeled/report_examples.csv
    """
    from .io import check_writable_folder
    from .workflows import run_eval

    check_writable_folder(out_dir, "eval: cannot write the report in", "choose another folder with --out-dir")
    model_dir = None if rules_only else _read_default(model_dir, "model_dir", taxonomy_path)
    for line in run_eval(gold, model_dir, taxonomy_path, holdings, sw_map, out_dir):
        click.echo(line)


@cli.command()
@click.argument("tagged", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="summary.xlsx (sheets), summary.md, or a folder for one CSV per table; the chart goes beside it "
                   "as .png and .html.")
@taxonomy_option
@click.option("--indices", "index_list", type=click.Path(dir_okay=False), default=None,
              help="A table of fund code → tracked index code/name (e.g. an ETF list) for funds whose row names no "
                   "index; without it, an index fund's index is read from its name.")
@friendly_errors
def summary(tagged, output, taxonomy_path, index_list):
    """The report's tables from a tagged file: one row per tracked index (the appendix), indices and funds per
    class beside 表3's counts, and the chart of indices per class (图3) as PNG and HTML.

    Example: fundclass summary tagged.xlsx -o summary.xlsx
    """
    from .summary import summary_file

    result = summary_file(tagged, output, taxonomy_path, index_list)
    click.echo("\n".join(result.lines()))
    click.echo("wrote " + ", ".join(str(p) for p in result.written), err=True)


@cli.command()
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(), default=None,
              help="changes.xlsx (sheets), changes.md, or a folder for one CSV per table (default: only the summary "
                   "on the terminal).")
@click.option("--examples", default=12, show_default=True, help="Changed funds listed on the terminal.")
@friendly_errors
def diff(old, new, output, examples):
    """What moved between two tagged runs (CSV/XLSX/Parquet, any model or taxonomy): funds added and gone, funds
    whose class changed (with both classes, confidences and evidence), funds that crossed the review threshold.

    Example: fundclass diff last_month.xlsx tagged.xlsx -o changes.xlsx
    """
    from .changes import diff_files

    ch = diff_files(old, new, output)
    click.echo("\n".join(ch.lines(examples=examples)))
    if output:
        click.echo("wrote " + ", ".join(str(p) for p in ch.written), err=True)


@cli.group()
def rules():
    """Inspect the keyword-rule layer."""


@rules.command(name="report")
@click.argument("labeled", type=click.Path(dir_okay=False), required=False)
@taxonomy_option
@click.option("--show-errors", default=5, show_default=True, help="Wrong rows listed per rule.")
@friendly_errors
def rules_report(labeled, taxonomy_path, show_errors):
    """Coverage, overlaps, conflicts and accuracy of every rule on LABELED, and the rows each rule gets wrong.

    Example: fundclass rules report data/labeled/labels.csv
    """
    from .rules_report import report_text
    from .taxonomy import load_taxonomy

    click.echo(report_text(_read_default(labeled, "labeled", taxonomy_path), load_taxonomy(taxonomy_path),
                           show_errors))


@cli.group()
def taxonomy():
    """Check, compare and migrate taxonomy files."""


@taxonomy.command(name="check")
@click.argument("path", type=click.Path(dir_okay=False))
@friendly_errors
def taxonomy_check(path):
    """Validate a taxonomy file and print its classes, and the file read (a shipped taxonomy's path in the installed
    package: copy it from there to edit it for `taxonomy migrate`).

    Example: fundclass taxonomy check taxonomy/jrj2026.toml
    """
    from pathlib import Path

    from .taxonomy import load_taxonomy

    t = load_taxonomy(path)
    click.echo(f"{t.id} {t.version}: {len(t.primaries)} primary, {len(t.classes)} secondary classes, "
               f"{len(t.rules)} rules, sha256 {t.sha256[:12]}")
    click.echo(f"file: {Path(t.path).resolve()}")
    for c in t.classes:
        click.echo(f"  {c.primary} / {c.secondary}")


@taxonomy.command(name="diff")
@click.argument("old", type=click.Path(dir_okay=False))
@click.argument("new", type=click.Path(dir_okay=False))
@friendly_errors
def taxonomy_diff(old, new):
    """Show what changed between two taxonomy files: classes, keywords, rules, scope.

    Example: fundclass taxonomy diff taxonomy/jrj2026.toml new.toml
    """
    from .taxonomy import load_taxonomy
    from .taxonomy_change import diff

    click.echo("\n".join(diff(load_taxonomy(old), load_taxonomy(new))))


@taxonomy.command(name="migrate")
@click.argument("migration", type=click.Path(dir_okay=False))
@click.option("--from", "old", required=True, type=click.Path(dir_okay=False), help="The old taxonomy file.")
@click.option("--to", "new", required=True, type=click.Path(dir_okay=False), help="The new taxonomy file.")
@click.option("--labeled", type=click.Path(dir_okay=False), default=None,
              help="Labeled set to change (default: the workspace's labeled set of the --from taxonomy).")
@click.option("-o", "--queue", required=True, type=click.Path(dir_okay=False),
              help="Review queue for rows whose class was split or removed (.xlsx or .csv).")
@click.option("--drop-undecided", is_flag=True,
              help="Migrate although funds the previous migration queued for review are still undecided: they stay "
                   "out of the labeled set (refused by default: their queue, of the old version, can no longer be "
                   "imported).")
@friendly_errors
def taxonomy_migrate(migration, old, new, labeled, queue, drop_undecided):
    """Apply a migration file to the labeled set: renamed/merged classes move, split/removed ones go to review.

    MIGRATION is a TOML file: the two taxonomy versions, and each class of the old taxonomy that the new one does not
    keep, mapped to the classes it becomes (a class kept by name needs no line):

    \b
    [migration]
    from = "OLD VERSION"      # [taxonomy] version of --from
    to = "NEW VERSION"        # [taxonomy] version of --to
    [map]
    "A" = ["A2"]              # renamed (or merged into A2): its rows move
    "B" = ["B1", "B2"]        # split: its rows go to the review queue
    "C" = []                  # removed: its rows go to the review queue

    Example: fundclass taxonomy migrate split.toml --from taxonomy/jrj2026.toml --to new.toml -o queue.xlsx
    """
    from .config import config_file, recorded_line, taxonomy_record
    from .taxonomy import default_taxonomy_path, load_taxonomy
    from .taxonomy_change import check_from, load_migration, migrate
    from .workspace import user_path

    o, n = load_taxonomy(old), load_taxonomy(new)
    own = not labeled or os.path.realpath(labeled) == os.path.realpath(user_path(_default_rel("labeled", old)))
    labeled = _write_default(labeled, "labeled", "changing the labeled set", old)  # the set of --from's taxonomy
    # the workspace's own set: its configuration names the new file, so that commands given no --taxonomy use it
    remember = taxonomy_record(n.id, n.path) if own else None
    if os.path.exists(labeled):
        check_from(labeled, o)  # a set migrated from --from already: said before the file's problems against it
    res = migrate(labeled, load_migration(migration, o, n), o, n, queue, drop_undecided=drop_undecided,
                  remember=remember)
    click.echo("\n".join(res.lines()))
    tx = f" --taxonomy {new}"
    if remember and res.remembered:
        f, line = remember[0], recorded_line(remember[1], n.id)
        try:
            used = default_taxonomy_path().resolve() == Path(n.path).resolve()
        except FundClassifierError:
            used = False
        if used:
            tx = ""
            click.echo(f"this workspace now uses {new} for every command given no --taxonomy (recorded in {f}: "
                       f"[taxonomies] {line}); to undo, delete that line (commands then use "
                       f"{default_path('taxonomy')} unless given --taxonomy, and the migrated labeled set refuses it)")
        else:
            click.echo(f"recorded in {f} ([taxonomies] {line}): used in place of [paths].taxonomy when that is a "
                       f"version of {n.id}, which the configuration in use does not name"
                       + (f" (the --config file {config_file()} wins)" if config_file() else "")
                       + f"; pass --taxonomy {new} to commands of this taxonomy")
    elif remember:
        click.echo(f"warning: {remember[0]} could not be written (the migration stands): commands given no "
                   f"--taxonomy do not use {new}; add [taxonomies] {recorded_line(remember[1], n.id)} to it by hand, or pass --taxonomy "
                   f"{new} to every command")
    if res.queued:
        click.echo(f"review queue: {queue}; then `fundclass review import {queue}{tx}` and "
                   f"`fundclass train{tx}`")
    else:  # no class split or removed held a row (a keyword added): nothing to review, and no queue is written
        earlier = f" ({queue} there is an earlier file, left as it was)" if os.path.exists(queue) else ""
        click.echo(f"nothing to review: no row was of a class the migration split or removed, so no review queue was "
                   f"written{earlier}; retrain for the new taxonomy: `fundclass train{tx}`")



@cli.group()
def review():
    """Review the doubtful cases by hand and feed the decisions back."""


@review.command(name="export")
@click.argument("tagged", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="review.xlsx or .csv")
@taxonomy_option
@click.option("--all", "include_all", is_flag=True, help="Export every row, not only those that need review.")
@click.option("--raw-csv", is_flag=True,
              help="CSV output for programs: cells as they are, without the ' put before cells that Excel would run "
                   "as formulas.")
@click.option("--sheet", default=None,
              help="Worksheet of an .xlsx TAGGED file to read (default: its only visible sheet that holds data).")
@click.option("--labeled", type=click.Path(dir_okay=False), default=None,
              help="Labeled set the decisions will go to, whose review decisions and index pairs say what a decision "
                   "settles (default: the workspace's, else the shipped one, as `fundclass tag` reads it).")
@friendly_errors
def review_export(tagged, output, taxonomy_path, include_all, raw_csv, sheet, labeled):
    """Write the rows of a tagged file that need review, most doubtful and most consequential first.

    Example: fundclass review export tagged.xlsx -o review.xlsx
    """
    from .io import check_output
    from .review import export_review
    from .taxonomy import load_taxonomy
    from .text import counted

    check_output(output)
    n, notes, later = export_review(tagged, output, load_taxonomy(taxonomy_path), include_all, raw_csv, sheet,
                                    _read_default(labeled, "labeled", taxonomy_path))
    for w in notes:
        click.echo(f"warning: {w}", err=True)
    # --all: every row of the file, whether it needs review or not
    click.echo(f"{counted(n, 'row')} {'exported (--all: every row)' if include_all else 'to review'} "
               f"-> {output}")
    if not n and not include_all:  # the sheet holds the header alone: say why, and how to see every row
        click.echo(f"  nothing in {tagged} needs review; `fundclass review export {tagged} --all -o {output}` lists "
                   f"every row, to check or overrule the tool's answers")
    if later:
        which = "one: of a share-class family" if later == 1 else f"{later} of them: share-class families"
        click.echo(f"  the last {which} of actively managed funds the tagged file gives no holdings of (tag with "
                   f"--holdings FILE: one whose top industry is over the seed-004 share may then leave review)")


@review.command(name="import")
@click.argument("review_file", type=click.Path(dir_okay=False))
@click.option("--labeled", type=click.Path(dir_okay=False), default=None,
              help="Labeled set to change (default: the workspace's; history.csv is kept beside it).")
@taxonomy_option
@click.option("--reviewer", default=None, help="Reviewer for rows whose reviewer cell is empty.")
@click.option("--dry-run", is_flag=True, help="Validate and report, write nothing.")
@click.option("--sheet", default=None,
              help="Worksheet of an .xlsx REVIEW_FILE to read (default: its only visible sheet that holds data).")
@click.option("--overrule", is_flag=True,
              help="Replace review decisions made after the sheet was exported (refused by default: an older sheet "
                   "would revert them), on every row of the sheet.")
@click.option("--overrule-fund", "overrule_fund", multiple=True, metavar="CODE[,CODE]",
              help="As --overrule, on the rows of these funds only (the codes the import's refusals name; repeat the "
                   "option or separate codes with commas): the sheet's other rows stay protected.")
@friendly_errors
def review_import(review_file, labeled, taxonomy_path, reviewer, dry_run, sheet, overrule, overrule_fund):
    """Validate every decision and put the good ones into the labeled set (all or nothing).

    Example: fundclass review import review.xlsx --reviewer 张三
    """
    from .review import import_review
    from .taxonomy import load_taxonomy

    labeled = _write_default(labeled, "labeled", "checking decisions against" if dry_run else
                             "labeled set to update (nothing is written unless every decision is valid)",
                             taxonomy_path)
    res = import_review(review_file, load_taxonomy(taxonomy_path), labeled, reviewer, dry_run=dry_run, sheet=sheet,
                        overrule=True if overrule else tuple(overrule_fund))
    click.echo("\n".join(res.lines()))
    if not dry_run and (res.added or res.changed):
        click.echo("the next `fundclass tag` applies them to these funds, their share classes and feeders, and every "
                   "fund tracking the same index; retrain (`fundclass train`) to let the model learn from them too")


@cli.group()
def labels():
    """The labeled set."""


@labels.command(name="audit")
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@taxonomy_option
@friendly_errors
def labels_audit(path, taxonomy_path):
    """Check the labeled set: duplicates, labels outside the taxonomy, one index or family with two labels.

    Example: fundclass labels audit data/labeled/labels.csv
    """
    from .labeled import audit, migration_pending, read_history, read_labels
    from .taxonomy import load_taxonomy

    path = _read_default(path, "labeled", taxonomy_path)
    labels, tax = read_labels(path), load_taxonomy(taxonomy_path)
    rep = audit(labels, tax, history=read_history(path))
    click.echo(f"{rep.n_funds} funds, {rep.n_indices} distinct tracked indices, {rep.n_groups} index/family groups, "
               f"{len(rep.errors)} errors" + (f", {len(rep.disputes)} in dispute between review decisions (warnings "
                                             f"below)" if rep.disputes else ""))
    click.echo(rep.counts.to_string())
    for e in rep.errors:
        click.echo(f"error: {e}")
    for d in rep.disputes:  # a state `review import` warned of and tagging handles, not an error of the set
        click.echo(f"warning: {d}")
    # not an error of the set's rows: funds the latest taxonomy migration took out of it, still to be decided
    undecided = migration_pending(path, set(labels["fund_code"].tolist()))
    if undecided:
        from .taxonomy import taxonomy_hint

        # the queue is of the set's version: its file, not the one given (a set audited with the version before)
        versions = sorted(set(labels["taxonomy_version"].tolist()) - {""})
        tx = f"--taxonomy {tax.path}" if versions in ([], [tax.version]) else taxonomy_hint(versions, "migrated")
        click.echo(f"warning: {len(undecided)} funds the latest taxonomy migration took out of the labeled set are "
                   f"still undecided in its review queue ({', '.join(undecided[:10])}"
                   f"{' …' if len(undecided) > 10 else ''}): they are in no count above; decide them in the queue and "
                   f"import it (`fundclass review import QUEUE {tx}`)")
    if rep.errors:
        sys.exit(1)


def _end_process(code: int) -> None:
    """End a run that succeeded without tearing the interpreter down: its output is written and closed, the standard
    streams are flushed and the exit handlers (``atexit``) run, as at any exit; only the freeing of every object and
    module is left out (for `fundclass tag` of the fund list, pandas' and the model's: about a tenth of the run's
    CPU). Returns, for the usual exit, when another thread is still running (the interpreter waits for it) or a
    stream cannot be flushed (a closed pipe: the interpreter reports it as usual)."""
    import atexit
    import threading

    if threading.active_count() > 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()  # what the interpreter runs at exit (multiprocessing's, logging's, tempfile's handlers)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


def main():  # console entry point
    # NumPy's BLAS on one thread, set before NumPy loads (a user's own OPENBLAS_NUM_THREADS wins): the products a
    # command computes are small (tagging's: rows × 14 classes), and OpenBLAS's second thread, started at import and
    # spinning around each one, was 0.7 G of the fund list's 10.5 G instructions (callgrind); one thread gives the
    # same bytes (it splits a product's rows and columns, not its sums). Training limits itself too
    # (:func:`classifier.train.one_blas_thread`).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # pandas' text columns are Arrow arrays; Arrow's default allocator (mimalloc) keeps the pages it freed for later
    # allocations, which a command run once never makes: the C library's malloc gives them back (set before pyarrow
    # loads; a user's own ARROW_DEFAULT_MEMORY_POOL wins). `fundclass tag` of the fund list: peak 258 → 240 MB, the
    # same CPU and bytes.
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    try:
        cli()  # standalone: always ends with SystemExit
    except SystemExit as exc:
        if exc.code in (None, 0):
            _end_process(0)
        raise


__all__ = ["cli", "main"]
