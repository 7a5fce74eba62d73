"""Score tagged outputs of the holdout worklist against the three independent reader reads.

Each fund gets its head's read from every reader (one read per head). Per fund we take the three
readers' labels, the consensus (the label at least two readers chose; none otherwise) and the
tool's *agreement*: the share of the three readers who chose the tool's secondary (0, 1/3, 2/3
or 1; a blank tool secondary counts as 0).

Per tagged file we report accuracy against the consensus, the review rate, the precision of the
auto-accepted rows (needs_review false), the share of the tool's errors that land in review, the
expected calibration error (ECE) of the confidence against the reader agreement, and the same
headline figures per head. A reliability diagram and the list of disagreements go to the output
folder next to report.md and metrics.json.

Optionally, for a file of rows that are *not* fund names, we count per tagged output how many rows
were withheld (blank secondary or needs_review true) and how many still got confidence >= 0.5.

Usage
-----
python scripts/eval_holdout.py --taxonomy jrj --tagged today=data/holdout/baseline/holdout_jrj.csv \
    [--tagged new=/tmp/holdout_jrj_new.csv ...] [--out-dir eval_holdout_report]
python scripts/eval_holdout.py --taxonomy efund --tagged today=data/holdout/baseline/holdout_efund.csv
python scripts/eval_holdout.py --not-names data/holdout/not_fund_names.csv \
    --not-names-tagged today=/tmp/notnames_today.csv

Options --worklist and --reads-dir point at other holdout files (defaults: data/holdout/...).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

N_READERS = 3
READER_COLS = [f"reader_{i}" for i in range(1, N_READERS + 1)]
READ_SUFFIX = {"jrj": "", "efund": "_efund"}
N_BINS = 10
TRUE_TEXT = {"true", "1", "yes", "y", "是"}
MAIN_FIGURES = ["accuracy vs consensus", "review rate", "auto-accepted agreeing with consensus",
                "errors sent to review"]


# ----------------------------------------------------------------------------- reading inputs

def parse_named(values: list[str] | None, option: str) -> dict[str, Path]:
    """Turn repeated ``NAME=PATH`` option values into an ordered ``{NAME: Path}`` mapping.

    Parameters
    ----------
    values : list of str or None
        Raw option values.
    option : str
        Option name, for the error message.

    Returns
    -------
    dict
        NAME to path, in command-line order.
    """
    named: dict[str, Path] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{option} expects NAME=PATH, got {value!r}")
        if name in named:
            raise SystemExit(f"{option}: name {name!r} given twice")
        named[name] = Path(path)
    return named


def read_text_csv(path: Path) -> pd.DataFrame:
    """Read a CSV with every column as text, blanks as empty strings, tolerating a BOM.

    Parameters
    ----------
    path : Path
        CSV file.

    Returns
    -------
    pandas.DataFrame
    """
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def normalise_codes(codes: pd.Series) -> pd.Series:
    """Fund codes as 6-digit strings (restores leading zeros lost by spreadsheet round-trips)."""
    codes = codes.str.strip()
    return codes.where(~codes.str.fullmatch(r"\d{1,6}"), codes.str.zfill(6))


def read_worklist(path: Path) -> pd.DataFrame:
    """Read the holdout worklist (head_id, fund_code, fund_name, ..., one row per fund)."""
    work = read_text_csv(path)
    work["fund_code"] = normalise_codes(work["fund_code"])
    return work


def read_reads(reads_dir: Path, taxonomy: str) -> pd.DataFrame:
    """Read the three readers' reads for one taxonomy, one row per head.

    Parameters
    ----------
    reads_dir : Path
        Folder holding ``reader_{i}.csv`` (jrj) and ``reader_{i}_efund.csv`` (efund).
    taxonomy : {'jrj', 'efund'}
        Which taxonomy's reads to use.

    Returns
    -------
    pandas.DataFrame
        Indexed by head_id, with columns ``reader_1..3`` (secondary label) and ``sure_1..3``.
    """
    parts = []
    for i in range(1, N_READERS + 1):
        read = read_text_csv(reads_dir / f"reader_{i}{READ_SUFFIX[taxonomy]}.csv")
        if read["head_id"].duplicated().any():
            raise SystemExit(f"reader {i}: more than one read for some head")
        read = read.set_index("head_id")
        parts.append(read["secondary"].str.strip().rename(f"reader_{i}"))
        parts.append(read["sure"].str.strip().rename(f"sure_{i}"))
    return pd.concat(parts, axis=1)


def consensus_of(labels: list[str]) -> str:
    """The label chosen by at least two of the readers, or '' when there is none."""
    counts = pd.Series([x for x in labels if x]).value_counts()
    return counts.index[0] if len(counts) and counts.iloc[0] >= 2 else ""


def reader_frame(work: pd.DataFrame, reads: pd.DataFrame) -> pd.DataFrame:
    """Give every fund of the worklist its head's reads, the consensus and unanimity.

    Parameters
    ----------
    work : pandas.DataFrame
        Worklist, one row per fund.
    reads : pandas.DataFrame
        Output of :func:`read_reads`.

    Returns
    -------
    pandas.DataFrame
        Worklist columns plus ``reader_1..3``, ``sure_1..3``, ``consensus`` and ``unanimous``.
    """
    missing = sorted(set(work["head_id"]) - set(reads.index))
    if missing:
        raise SystemExit(f"no reads for heads: {', '.join(missing[:10])}")
    frame = work.join(reads, on="head_id")
    labels = frame[READER_COLS].values.tolist()
    frame["consensus"] = [consensus_of(row) for row in labels]
    frame["unanimous"] = [len(set(row)) == 1 and row[0] != "" for row in labels]
    return frame


def read_tagged(path: Path, work: pd.DataFrame) -> pd.DataFrame:
    """Read a tagged output and align it to the worklist rows.

    Rows are joined by fund_code when the codes are unique in both files, else by position
    (the tagged file keeps the worklist's rows and order).

    Parameters
    ----------
    path : Path
        Tagged CSV (utf-8, BOM allowed).
    work : pandas.DataFrame
        Worklist.

    Returns
    -------
    pandas.DataFrame
        One row per worklist row, columns ``secondary``, ``confidence``, ``needs_review``.
    """
    tagged = read_text_csv(path)
    tagged["fund_code"] = normalise_codes(tagged["fund_code"])
    tool = tool_columns(tagged)
    unique = not tagged["fund_code"].duplicated().any() and not work["fund_code"].duplicated().any()
    if unique and set(tagged["fund_code"]) == set(work["fund_code"]):
        return tool.set_index(tagged["fund_code"]).loc[work["fund_code"]].reset_index(drop=True)
    if len(tagged) != len(work) or (tagged["fund_code"].to_numpy() != work["fund_code"].to_numpy()).any():
        raise SystemExit(f"{path}: rows do not match the worklist (neither by fund_code nor by position)")
    return tool.reset_index(drop=True)


def tool_columns(tagged: pd.DataFrame) -> pd.DataFrame:
    """The tool's answer as typed columns: secondary (str), confidence (float), needs_review (bool).

    A blank confidence counts as 0 (the tool gave no answer, or no belief in it).
    """
    return pd.DataFrame({
        "secondary": tagged["secondary"].str.strip(),
        "confidence": pd.to_numeric(tagged["confidence"], errors="coerce").fillna(0.0).clip(0, 1),
        "needs_review": tagged["needs_review"].str.strip().str.lower().isin(TRUE_TEXT),
    }, index=tagged.index)


def score_rows(readers: pd.DataFrame, tool: pd.DataFrame) -> pd.DataFrame:
    """Put the tool's answer beside the reads and add agreement and correctness per row.

    Parameters
    ----------
    readers : pandas.DataFrame
        Output of :func:`reader_frame`.
    tool : pandas.DataFrame
        Output of :func:`read_tagged`, aligned with ``readers``.

    Returns
    -------
    pandas.DataFrame
        ``readers`` plus tool columns, ``agreement`` (share of readers who chose the tool's
        secondary), ``has_consensus`` and ``correct`` (tool secondary equals the consensus).
    """
    rows = pd.concat([readers.reset_index(drop=True), tool.reset_index(drop=True)], axis=1)
    answered = rows["secondary"] != ""
    votes = sum((rows[c] == rows["secondary"]) & answered for c in READER_COLS)
    rows["agreement"] = votes / N_READERS
    rows["has_consensus"] = rows["consensus"] != ""
    rows["correct"] = rows["has_consensus"] & answered & (rows["secondary"] == rows["consensus"])
    return rows


# ----------------------------------------------------------------------------- metrics

def ratio(num: int, den: int) -> dict:
    """A share with its counts; the share is None when the denominator is 0."""
    return {"value": num / den if den else None, "num": int(num), "den": int(den)}


def reliability_bins(conf: pd.Series, agreement: pd.Series, n_bins: int = N_BINS) -> pd.DataFrame:
    """Group rows into equal-width confidence bins over [0, 1].

    Parameters
    ----------
    conf, agreement : pandas.Series
        Per-row confidence and reader agreement.
    n_bins : int
        Number of bins; confidence 1.0 falls in the last one.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty bin: ``lo``, ``hi``, ``n``, ``mean_confidence``, ``mean_agreement``.
    """
    idx = np.clip(np.floor(conf.to_numpy() * n_bins).astype(int), 0, n_bins - 1)
    grouped = pd.DataFrame({"bin": idx, "c": conf.to_numpy(), "a": agreement.to_numpy()}).groupby("bin")
    out = pd.DataFrame({"n": grouped.size(), "mean_confidence": grouped["c"].mean(),
                        "mean_agreement": grouped["a"].mean()})
    out.insert(0, "lo", out.index / n_bins)
    out.insert(1, "hi", (out.index + 1) / n_bins)
    return out.reset_index(drop=True)


def expected_calibration_error(bins: pd.DataFrame) -> float:
    """ECE: sum over bins of (n_bin / N) * |mean confidence - mean agreement|."""
    if bins.empty:
        return float("nan")
    weights = bins["n"] / bins["n"].sum()
    return float((weights * (bins["mean_confidence"] - bins["mean_agreement"]).abs()).sum())


def main_figures(rows: pd.DataFrame) -> dict:
    """Accuracy, review rate, auto-accept precision and error recall on a set of scored rows.

    Parameters
    ----------
    rows : pandas.DataFrame
        Output of :func:`score_rows` (or a subset of it).

    Returns
    -------
    dict
        Figure name to :func:`ratio` dict.
    """
    cons = rows[rows["has_consensus"]]
    auto = cons[~cons["needs_review"]]
    wrong = cons[~cons["correct"]]
    return {
        "accuracy vs consensus": ratio(cons["correct"].sum(), len(cons)),
        "review rate": ratio(rows["needs_review"].sum(), len(rows)),
        "auto-accepted agreeing with consensus": ratio(auto["correct"].sum(), len(auto)),
        "errors sent to review": ratio(wrong["needs_review"].sum(), len(wrong)),
    }


def fund_metrics(rows: pd.DataFrame) -> dict:
    """All per-fund metrics for one tagged file (see the module docstring)."""
    bins = reliability_bins(rows["confidence"], rows["agreement"])
    return {
        "rows": len(rows),
        "rows with a consensus": ratio(rows["has_consensus"].sum(), len(rows)),
        "readers unanimous": ratio(rows["unanimous"].sum(), len(rows)),
        **main_figures(rows),
        "ECE (confidence vs reader agreement)": expected_calibration_error(bins),
        "mean confidence": float(rows["confidence"].mean()),
        "mean agreement": float(rows["agreement"].mean()),
    }


def head_metrics(rows: pd.DataFrame) -> dict:
    """The main figures with one row per head (the head's first fund)."""
    heads = rows.drop_duplicates("head_id", keep="first")
    return {"heads": len(heads), "heads with a consensus": ratio(heads["has_consensus"].sum(), len(heads)),
            **main_figures(heads)}


# ----------------------------------------------------------------------------- not-fund-names check

def not_names_metrics(path: Path, n_input: int | None) -> dict:
    """Count how a tagged file of non-fund-name rows was handled.

    Parameters
    ----------
    path : Path
        Tagged output of the not-fund-names file.
    n_input : int or None
        Row count of the input file, to check nothing was dropped.

    Returns
    -------
    dict
        rows, withheld (blank secondary or in review), confident (confidence >= 0.5),
        auto-accepted with an answer, plus the offending rows.
    """
    tagged = read_text_csv(path)
    if n_input is not None and len(tagged) != n_input:
        raise SystemExit(f"{path}: {len(tagged)} rows, the not-names input has {n_input}")
    tool = tool_columns(tagged)
    withheld = (tool["secondary"] == "") | tool["needs_review"]
    confident = tool["confidence"] >= 0.5
    bad = (~withheld | confident).to_numpy()
    # built from the offending rows alone: assigning whole columns to an empty frame would bring every row back
    offending = pd.DataFrame({"fund_name": tagged["fund_name"].to_numpy()[bad],
                              "secondary": tool["secondary"].to_numpy()[bad],
                              "confidence": tool["confidence"].to_numpy()[bad],
                              "needs_review": tool["needs_review"].astype(object).to_numpy()[bad]})
    return {
        "rows": len(tagged),
        "blank secondary or in review": ratio(withheld.sum(), len(tagged)),
        "blank secondary": ratio((tool["secondary"] == "").sum(), len(tagged)),
        "auto-accepted with an answer": ratio((~withheld).sum(), len(tagged)),
        "confidence >= 0.5": ratio(confident.sum(), len(tagged)),
        "offending": offending.to_dict("records"),
    }


# ----------------------------------------------------------------------------- output

def fmt(value) -> str:
    """Format a metric for the markdown tables."""
    if isinstance(value, dict):
        if value["value"] is None:
            return f"– (0/{value['den']})"
        return f"{value['value']:.3f} ({value['num']}/{value['den']})"
    if isinstance(value, float):
        return "–" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def side_by_side(per_name: dict[str, dict], skip: tuple[str, ...] = ()) -> str:
    """One markdown table: a row per metric, a column per NAME."""
    names = list(per_name)
    metrics = [m for m in per_name[names[0]] if m not in skip]
    table = pd.DataFrame({n: [fmt(per_name[n][m]) for m in metrics] for n in names}, index=metrics)
    return table.rename_axis("metric").to_markdown(colalign=["left"] + ["right"] * len(names))


def readers_text(row: pd.Series) -> str:
    """Readers' labels of a row, '?' marking a read the reader was not sure of."""
    return " / ".join(row[f"reader_{i}"] + ("" if row[f"sure_{i}"] == "1" else "?")
                      for i in range(1, N_READERS + 1))


def disagreement_table(rows: pd.DataFrame) -> str:
    """Markdown list of the rows where the tool's secondary differs from the readers' consensus."""
    bad = rows[rows["has_consensus"] & ~rows["correct"]]
    if bad.empty:
        return "_none_"
    table = pd.DataFrame({
        "fund_code": bad["fund_code"], "fund_name": bad["fund_name"], "index_name": bad["index_name"],
        "tool secondary": bad["secondary"].replace("", "(blank)"),
        "confidence": bad["confidence"].map("{:.3f}".format), "needs_review": bad["needs_review"],
        "readers": bad.apply(readers_text, axis=1), "consensus": bad["consensus"]})
    return table.to_markdown(index=False, disable_numparse=True)


def no_consensus_table(rows: pd.DataFrame) -> str:
    """Markdown list of the heads where the readers reached no consensus, with the tool's answer."""
    heads = rows[~rows["has_consensus"]].drop_duplicates("head_id")
    if heads.empty:
        return "_none_"
    table = pd.DataFrame({
        "head_id": heads["head_id"], "fund_name": heads["fund_name"], "index_name": heads["index_name"],
        "tool secondary": heads["secondary"].replace("", "(blank)"),
        "confidence": heads["confidence"].map("{:.3f}".format), "needs_review": heads["needs_review"],
        "agreement": heads["agreement"].map("{:.2f}".format), "readers": heads.apply(readers_text, axis=1)})
    return table.to_markdown(index=False, disable_numparse=True)


def plot_reliability(bins_by_name: dict[str, pd.DataFrame], path: Path, title: str) -> None:
    """Reliability diagram: mean reader agreement against mean confidence per bin, one line per NAME."""
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    for name, bins in bins_by_name.items():
        ax.plot(bins["mean_confidence"], bins["mean_agreement"], marker="o", label=name)
        for _, b in bins.iterrows():
            ax.annotate(str(int(b["n"])), (b["mean_confidence"], b["mean_agreement"]), fontsize=7,
                        textcoords="offset points", xytext=(3, -9))
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="confidence (mean per bin, 10 equal-width bins)",
           ylabel="mean reader agreement", title=title)
    ax.set_xticks(np.linspace(0, 1, N_BINS + 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def bins_markdown(bins_by_name: dict[str, pd.DataFrame]) -> str:
    """The reliability bins of every NAME as one markdown table."""
    frames = [b.assign(name=n)[["name", "lo", "hi", "n", "mean_confidence", "mean_agreement"]]
              for n, b in bins_by_name.items()]
    return pd.concat(frames).to_markdown(index=False, floatfmt=".3f")


# ----------------------------------------------------------------------------- driver

def evaluate_holdout(args, tagged: dict[str, Path]) -> tuple[list[str], list[str], dict]:
    """Score every tagged holdout file; return printed sections, report-only sections, metrics."""
    work = read_worklist(args.worklist)
    readers = reader_frame(work, read_reads(args.reads_dir, args.taxonomy))
    scored = {name: score_rows(readers, read_tagged(path, work)) for name, path in tagged.items()}
    per_fund = {name: fund_metrics(rows) for name, rows in scored.items()}
    per_head = {name: head_metrics(rows) for name, rows in scored.items()}
    bins = {name: reliability_bins(rows["confidence"], rows["agreement"]) for name, rows in scored.items()}
    plot_reliability(bins, args.out_dir / "reliability.png", f"Holdout reliability ({args.taxonomy})")

    printed = [f"## Holdout, taxonomy {args.taxonomy}: per fund\n\n{side_by_side(per_fund)}",
               f"## Holdout, taxonomy {args.taxonomy}: per head (first fund of each head)\n\n"
               f"{side_by_side(per_head)}"]
    report_only = [f"## Reliability bins\n\n![reliability](reliability.png)\n\n{bins_markdown(bins)}"]
    for name, rows in scored.items():
        report_only.append(f"## Disagreements with the reader consensus: {name}\n\n"
                           f"Readers' labels in reader order; `?` marks a read its reader was not sure of.\n\n"
                           f"{disagreement_table(rows)}")
    first = next(iter(scored.values()))
    report_only.append(f"## Heads without a reader consensus ({(~first['has_consensus']).sum()} funds, "
                       f"{first.loc[~first['has_consensus'], 'head_id'].nunique()} heads)\n\n"
                       + "\n\n".join(f"### {name}\n\n{no_consensus_table(rows)}" for name, rows in scored.items()))
    metrics = {"taxonomy": args.taxonomy, "tagged": {n: str(p) for n, p in tagged.items()},
               "per_fund": per_fund, "per_head": per_head,
               "reliability_bins": {n: b.to_dict("records") for n, b in bins.items()}}
    return printed, report_only, metrics


def evaluate_not_names(args, tagged: dict[str, Path]) -> tuple[list[str], list[str], dict]:
    """Check the not-fund-names outputs; return printed sections, report-only sections, metrics."""
    n_input = len(read_text_csv(args.not_names)) if args.not_names else None
    per_name = {name: not_names_metrics(path, n_input) for name, path in tagged.items()}
    printed = [f"## Not fund names ({args.not_names or 'input not given'}); target: every row blank or in "
               f"review, none with confidence >= 0.5\n\n{side_by_side(per_name, skip=('offending',))}"]
    report_only = []
    for name, m in per_name.items():
        off = pd.DataFrame(m["offending"])
        body = "_none_" if off.empty else off.to_markdown(index=False, floatfmt=".3f")
        report_only.append(f"## Not fund names answered confidently or auto-accepted: {name}\n\n{body}")
    return printed, report_only, {"not_names": {"input": str(args.not_names), "per_name": per_name}}


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tagged", action="append", metavar="NAME=PATH",
                    help="tagged output of the holdout worklist (repeatable)")
    ap.add_argument("--taxonomy", choices=sorted(READ_SUFFIX), help="which reader reads to use")
    ap.add_argument("--worklist", type=Path, default=Path("data/holdout/worklist.csv"))
    ap.add_argument("--reads-dir", type=Path, default=Path("data/holdout/reads"))
    ap.add_argument("--not-names", type=Path, metavar="PATH", help="input file of rows that are not fund names")
    ap.add_argument("--not-names-tagged", action="append", metavar="NAME=PATH",
                    help="tagged output of the not-names file (repeatable)")
    ap.add_argument("--out-dir", type=Path, default=Path("eval_holdout_report"))
    args = ap.parse_args()
    if args.tagged and not args.taxonomy:
        ap.error("--tagged needs --taxonomy")
    if not args.tagged and not args.not_names_tagged:
        ap.error("give --tagged and/or --not-names-tagged")
    return args


def main() -> None:
    """Run the requested evaluations, print the tables and write the report folder."""
    args = parse_args()
    jobs = ((parse_named(args.tagged, "--tagged"), evaluate_holdout),
            (parse_named(args.not_names_tagged, "--not-names-tagged"), evaluate_not_names))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    printed, report_only, metrics = [], [], {}
    for wanted, evaluate in jobs:
        if wanted:
            p, r, m = evaluate(args, wanted)
            printed += p
            report_only += r
            metrics.update(m)
    print("\n\n".join(printed))
    (args.out_dir / "report.md").write_text("# Holdout evaluation\n\n" + "\n\n".join(printed + report_only) + "\n",
                                            encoding="utf-8")
    (args.out_dir / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2, default=str),
                                               encoding="utf-8")
    print(f"\nreport: {args.out_dir / 'report.md'}")


if __name__ == "__main__":
    main()
