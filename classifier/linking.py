"""Link feeder funds (联接) to their ETF and share classes (A/C/E/I/Y) to their family, and flag duplicate codes.

A share class and its siblings have the same family key (name without the class letter); a feeder's key, once 联接 is
removed, is its ETF's name. Keys are compared exactly first, then with RapidFuzz (``ratio`` ≥ ``tag.feeder_ratio``, 92) among the ETFs, so
that variant spellings (华夏中证机器人ETF发起式联接A ↔ 华夏中证机器人ETF) still link.

The fuzzy step is blocked on the keys' characters and bigrams (:class:`NearKeys`): a key within the cutoff of a
feeder's target holds one of the target's rarest characters (enough of them to exceed the characters the cutoff lets
differ), and one of its 2k+1 rarest bigrams (k: the most insertions and deletions the cutoff allows), so only the
ETFs holding the cheaper of these two are scored. No ETF the cutoff accepts is left out, and the candidates are
scored in the order of the full list, so the links are those of scoring every feeder against every ETF; the work
grows with the rows and the number of ETFs sharing a feeder's rare characters, not with feeders × ETFs.

:func:`link` links the rows of one frame. :func:`file_links` does it for a whole file from its identifying columns
alone (:func:`classifier.prepare.identify`, a light first pass), and :meth:`FileLinks.chunk` hands each chunk its
rows' links, with the rows outside the chunk they follow appended as context, so a share class or feeder links to
its head or ETF in another chunk and a code repeated in two chunks is flagged.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from .config import defaults
from .fundtype import WordReader
from .normalize import without_share_class
from .text import clean
from .vocabulary import Vocabulary, load_vocabulary

_PAD = "\x00"  # bigrams are taken of the key padded on both sides, so one-character keys have some too


def feeder_cutoff() -> float:
    """The RapidFuzz ``ratio`` a feeder's name must reach against an ETF's (configuration ``tag.feeder_ratio``)."""
    return float(defaults()["tag"]["feeder_ratio"])


def family_key(name: str, cleaned: bool = False, vocab: Vocabulary | None = None) -> str:
    """The name without family-noise words and share-class letter (taxonomy/common.toml [linking], [normalize])."""
    v = vocab or load_vocabulary()
    return without_share_class(v.family_noise.sub("", name if cleaned else clean(name)), v)


def family_keys(p: pd.DataFrame) -> list[str]:
    """Per row, the family key ('' when the row has no name), qualified by the tracked index or benchmark."""
    # share classes of one fund track one index: two funds with the same short name but different indices
    # (structured funds such as 一带一A of two managers) are different families
    subject = (p["s_index"].where(p["s_index"] != "", p["s_benchmark"])).tolist()
    v = load_vocabulary()
    return [(k + ("#" + s if s else "")) if k else "" for k, s in
            zip((family_key(n, cleaned=True, vocab=v) for n in p["n_name"].tolist()), subject)]


def fund_codes(p: pd.DataFrame) -> pd.Series:
    """Per row, the fund code duplicates are judged by: the 6-digit code, else the raw code."""
    return p["code6"].where(p["code6"] != "", p["code"])


def duplicate_codes(p: pd.DataFrame | None = None, codes: pd.Series | None = None) -> np.ndarray:
    """Per row, whether its fund code (:func:`fund_codes` of ``p``, or ``codes``) occurs on another row."""
    codes = fund_codes(p) if codes is None else codes
    blank = codes.to_numpy() == ""
    return codes.where(~blank).duplicated(keep=False).to_numpy() & ~blank


def _bigrams(key: str) -> set[str]:
    t = _PAD + key + _PAD
    return {t[i:i + 2] for i in range(len(t) - 1)}


def _positions(sign: np.ndarray, owner: np.ndarray, text) -> dict[str, np.ndarray]:
    """{text(s): the distinct owners (ascending, int64) of sign s} for the (sign, owner) pairs given."""
    order = np.lexsort((owner, sign))
    sign, owner = sign[order], owner[order]
    new = np.ones(len(sign), dtype=bool)
    new[1:] = (sign[1:] != sign[:-1]) | (owner[1:] != owner[:-1])
    sign, owner = sign[new], owner[new]
    cut = np.flatnonzero(sign[1:] != sign[:-1]) + 1
    firsts = np.concatenate([[0], cut]) if len(sign) else cut
    return {text(int(sign[i])): part for i, part in zip(firsts, np.split(owner, cut))}


class _Counts(dict):
    def __missing__(self, key) -> int:
        return 0


class NearKeys:
    """Keys indexed by their characters and bigrams, to find the best key within ``fuzz.ratio`` ≥ ``cutoff`` of a
    query the way ``process.extractOne(query, keys, scorer=fuzz.ratio, score_cutoff=cutoff)`` does, without scoring
    every key.

    ratio = 100·(1 − d / (m + n)) for the insertions and deletions d that turn a query of length m into a key of
    length n, so a key within the cutoff has |m − n| ≤ d ≤ s·(m + n), s = 1 − cutoff/100, and two signatures hold:

    - characters: the longest common subsequence, (m + n − d) / 2 ≥ (m + n)(1 − s) / 2, is made of characters both
      hold, so at most ``missing`` = m − (m + n_min)(1 − s) / 2 of the query's characters are absent from the key: the
      key holds one of the query's rarest characters that account for ``missing`` + 1 of its characters;
    - bigrams: each insertion or deletion breaks at most two of the query's (padded) bigrams, so the key holds all but
      at most 2k of the query's distinct bigrams (k the largest d allowed): it holds one of the rarest 2k + 1.

    The keys holding the cheaper signature are scored (in their order in ``keys``); a query too short or repetitive
    for either is compared with every key of a compatible length.
    """

    def __init__(self, keys: list[str], cutoff: float | None = None):
        cutoff = feeder_cutoff() if cutoff is None else cutoff
        self.keys = keys
        self.cutoff = cutoff
        self._slack = 1.0 - cutoff / 100.0
        self._len = np.array([len(k) for k in keys], dtype=np.int64)
        # per character and per (padded) bigram, the positions of the keys holding it, ascending: built in NumPy over
        # the keys' code points (100k keys: 0.8-1.1 s instead of 2.4 s of Python loops)
        padded = np.frombuffer("".join(_PAD + k + _PAD for k in keys).encode("utf-32-le"), dtype=np.uint32)
        owner = np.repeat(np.arange(len(keys), dtype=np.int64), self._len + 2)
        ends = np.cumsum(self._len + 2)
        inner = np.ones(len(padded), dtype=bool)  # not a pad
        inner[ends - 1] = False
        inner[ends - self._len - 2] = False
        self._chars = _positions(padded[inner].astype(np.int64), owner[inner], chr)
        gram = padded[:-1].astype(np.int64) << 21 | padded[1:]  # a bigram within one padded key (not across two)
        same = owner[:-1] == owner[1:]
        self._grams = _positions(gram[same], owner[:-1][same], lambda g: chr(g >> 21) + chr(g & 0x1FFFFF))
        # how many keys hold each character and bigram (0 for none), the order in which signatures are tried
        self._n_chars = _Counts({c: len(v) for c, v in self._chars.items()})
        self._n_grams = _Counts({g: len(v) for g, v in self._grams.items()})
        self.scored = 0  # keys scored so far (for tests and benchmarks)

    def _holding(self, index: dict[str, np.ndarray], signs: list[str]) -> list[np.ndarray]:
        return [index[x] for x in signs if x in index]

    def candidates(self, query: str) -> np.ndarray:
        """Positions (ascending) of the keys that may be within the cutoff of ``query``."""
        m, s = len(query), self._slack
        longest = m * (1 + s) / (1 - s) + 1e-6
        shortest = max(m * (1 - s) / (1 + s) - 1e-6, 0.0)
        k = int(s * (m + longest) + 1e-6)
        missing = int(m - (m + shortest) * (1 - s) / 2 + 1e-6)
        options = []
        counts: dict[str, int] = {}
        for c in query:
            counts[c] = counts.get(c, 0) + 1
        if m > missing:
            chosen, need = [], missing + 1
            for c in sorted(counts, key=self._n_chars.__getitem__):
                chosen.append(c)
                need -= counts[c]
                if need <= 0:
                    break
            options.append(self._holding(self._chars, chosen))
        if not options or options[0]:  # no key holds the rare characters: nothing to look up
            grams = sorted(_bigrams(query), key=self._n_grams.__getitem__)
            if len(grams) > 2 * k:
                options.append(self._holding(self._grams, grams[:2 * k + 1]))
        if options:
            hits = min(options, key=lambda h: sum(len(x) for x in h))
            cand = np.unique(np.concatenate(hits)) if hits else np.empty(0, dtype=np.int64)
        else:
            cand = np.arange(len(self.keys))
        n = self._len[cand]
        return cand[(n >= shortest) & (n <= longest)]

    def best(self, query: str, accept=None) -> int:
        """Position of the key ``extractOne`` would pick among all keys (those ``accept(key)`` holds true of, when
        given), or -1 when none reaches the cutoff."""
        cand = self.candidates(query)
        if accept is not None and len(cand):
            cand = cand[np.fromiter((accept(self.keys[j]) for j in cand), dtype=bool, count=len(cand))]
        if not len(cand):
            return -1
        self.scored += len(cand)
        m = process.extractOne(query, [self.keys[j] for j in cand], scorer=fuzz.ratio, score_cutoff=self.cutoff)
        return int(cand[m[2]]) if m is not None else -1


_NUMBER = re.compile(r"[A-Za-z]*\d+(?:[-.]\d+)*")


def _numbers(key: str) -> list[str]:
    """The numbers of a key with the letters written before them (中证A500ETF → ['A500']), in order."""
    return _NUMBER.findall(key)


class EtfFinder:
    """The ETF each feeder follows, from the family keys of a file: its key without 联接 equal to an ETF's key, else
    the ETF key within ``tag.feeder_ratio`` (:class:`NearKeys`) of the same scope (:meth:`scope`): 中证500ETF联接 is no
    feeder of 中证A500ETF, nor 上证580ETF联接 of 上证50ETF, 沪港深300ETF联接 of 沪深300ETF or 黄金股ETF联接 of 黄金ETF,
    though one character apart. Positions are the file's; a feeder found once is not searched again. The fuzzy index
    is built on first need (:meth:`ready` builds it beforehand, for forked workers to share)."""

    def __init__(self, fam: list[str]):
        v = load_vocabulary()
        self.feeder, self.etf_word, self.hong_kong = v.feeder, v.etf, v.hong_kong_market
        self._reader = WordReader(v)
        self._scopes: dict[str, tuple] = {}
        is_etf = np.array([(self.etf_word in k.split("#")[0] and self.feeder not in k) for k in fam], dtype=bool)
        self.etf_keys = {fam[i]: i for i in np.flatnonzero(is_etf)[::-1]}  # a key's first row; in extractOne's order
        self.near: NearKeys | None = None
        self.found: dict[str, int] = {}

    def scope(self, key: str) -> tuple:
        """What a fuzzy match may not change: the numbers a key names (with the letters before them: A500 ≠ 500),
        whether it names the Hong Kong market (common.toml [holdings] hong_kong_market) and the asset class its words
        give (common.toml [[asset_class]]: 黄金 a commodity, 黄金股 not)."""
        s = self._scopes.get(key)
        if s is None:
            named = self._reader.by_name(key)
            s = self._scopes[key] = (tuple(_numbers(key)), self.hong_kong in key, named[0] if named else "")
        return s

    def _target(self, k: str) -> str:
        t = k.replace(self.feeder, "")
        return t if self.etf_word in t else t + self.etf_word

    def ready(self, fam: list[str]) -> "EtfFinder":
        """Build the fuzzy index now if a feeder among ``fam`` has no ETF of its exact key."""
        if self.near is None and self.etf_keys and any(
                self.feeder in k and self._target(k) not in self.etf_keys for k in fam):
            self.near = NearKeys(list(self.etf_keys))
        return self

    def find(self, fam: list[str]) -> np.ndarray:
        """Per key of ``fam``, the file position of the ETF it follows; -1 when it is no feeder or none is found."""
        etf = np.full(len(fam), -1, dtype=np.int64)
        etf_keys, found = self.etf_keys, self.found
        for i, k in enumerate(fam):
            if self.feeder not in k:
                continue
            target = self._target(k)
            j = etf_keys.get(target)
            if j is None and etf_keys:
                if target not in found:
                    self.near = self.near or NearKeys(list(etf_keys))
                    scope = self.scope(target)
                    b = self.near.best(target, accept=lambda key, scope=scope: self.scope(key) == scope)
                    found[target] = etf_keys[self.near.keys[b]] if b >= 0 else -1
                j = found[target]
            if j is not None and j >= 0:
                etf[i] = j
        return etf


class ReviewedFamilies:
    """The family keys of reviewed funds, so that a decision reaches the fund's share classes and feeders in any batch,
    not only in the one that holds the reviewed fund (or where the reviewed fund comes first in its family).

    A row follows a reviewed fund when its family key names the same family (the names equal; the tracked subjects
    equal, or one of them unknown: a later file may lack the index columns), or, for a feeder, when the ETF it follows
    (:class:`EtfFinder` over the reviewed funds' names) is a reviewed fund with a compatible subject. A family whose
    reviewed members were given different classes is settled by none of them (each still settles its own fund). Of the
    members that agree, the earliest decision settles the family's other rows (``dates``: the days they were made,
    ``labeled_at``; of those made the same day, the one first in the list), as the earliest of the decisions that
    agree on an index keeps it (:func:`classifier.decide.settling_keys`): a later decision that agrees changes no
    other row. None: all made the same day."""

    def __init__(self, fam: list[str], codes: list[str], classes: list[str], dates: list[str] | None = None):
        split = [k.partition("#")[::2] for k in fam]
        decided: dict[str, set] = {}
        for (name, _), c in zip(split, classes):
            if name:
                decided.setdefault(name, set()).add(c)
        keep = [bool(name) and len(decided[name]) == 1 for name, _ in split]
        self.disputed: dict[str, list[tuple[str, str]]] = {}  # family name → (subject, code) of its disagreeing members
        for (name, subject), c, k in zip(split, codes, keep):
            if name and not k:
                self.disputed.setdefault(name, []).append((subject, c))
        # the agreeing members, earliest first (a stable sort: those of one day keep the list's order)
        order = [i for i in range(len(fam)) if keep[i]]
        if dates is not None:
            order.sort(key=lambda i: str(dates[i]))
        self.names = [split[i][0] for i in order]
        self.subjects = [split[i][1] for i in order]
        self.codes = [codes[i] for i in order]
        self.first: dict[str, list[int]] = {}
        for i, n in enumerate(self.names):
            self.first.setdefault(n, []).append(i)
        self.etfs = EtfFinder(self.names)

    def __bool__(self) -> bool:
        return bool(self.names or self.disputed)

    def disputes(self, fam: list[str]) -> list[tuple[str, ...]]:
        """Per family key of ``fam``, the codes of the reviewed members of its family that were given different
        classes (() when none): such a row is settled by none of them, and goes to review."""
        out: list[tuple[str, ...]] = [()] * len(fam)
        if not self.disputed:
            return out
        for j, k in enumerate(fam):
            name, _, subject = k.partition("#")
            members = self.disputed.get(name, ()) if name else ()
            if members:
                out[j] = tuple(c for s, c in members if not subject or not s or s == subject)
        return out

    def _compatible(self, i: int, subject: str) -> bool:
        return not subject or not self.subjects[i] or self.subjects[i] == subject

    def find(self, fam: list[str]) -> tuple[list[str], list[str]]:
        """Per family key of ``fam`` (:func:`family_keys`), the code of the reviewed fund the row follows ('' none):
        a reviewed share class of its own fund (the same family name), and, for a feeder, the reviewed ETF it
        follows (tagging tries them in that order, :func:`classifier.decide.override`)."""
        own, out = [""] * len(fam), [""] * len(fam)
        if not self.names:
            return own, out
        split = [k.partition("#")[::2] for k in fam]
        for j, (name, subject) in enumerate(split):
            if name in self.first:
                hit = next((i for i in self.first[name] if self._compatible(i, subject)), -1)
                own[j] = self.codes[hit] if hit >= 0 else ""
        feeders = [j for j, (name, _) in enumerate(split) if self.etfs.feeder in name]
        etf = self.etfs.find([split[j][0] for j in feeders])
        for j, e in zip(feeders, etf.tolist()):
            if e >= 0 and self._compatible(e, split[j][1]):
                out[j] = self.codes[e]
        return own, out


def head_positions(fam: list[str]) -> np.ndarray:
    """Per row, the position of the first row with the same family key (itself without a key)."""
    first: dict[str, int] = {}
    return np.array([first.setdefault(k, i) if k else i for i, k in enumerate(fam)], dtype=np.int64)


def link_keys(fam: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``head`` (:func:`head_positions`) and ``etf`` (position of the ETF a feeder follows, -1 when none) of every
    row, from the family keys."""
    return head_positions(fam), EtfFinder(fam).find(fam)


def link(p: pd.DataFrame) -> pd.DataFrame:
    """For each row: ``family`` (key), ``head`` (row position of the family's first member) and ``etf`` (row position
    of the ETF a feeder follows, or -1)."""
    fam = family_keys(p)
    head, etf = link_keys(fam)
    return pd.DataFrame({"family": pd.Series(fam, index=p.index, dtype=object), "head": head, "etf": etf},
                        index=p.index)


@dataclass
class ChunkLinks:
    """What one chunk needs to be tagged as part of its file (see :meth:`FileLinks.chunk`)."""

    context: np.ndarray  # file positions of the rows outside the chunk that its rows follow, tagged after the chunk
    links: pd.DataFrame  # family, head, etf for the chunk's rows and then the context rows (positions in that order)
    duplicate: np.ndarray  # duplicate_code of the same rows, over the whole file


class FileLinks:
    """Links and duplicate-code flags of a whole file, as file row positions: each row's family head and duplicate
    flag (int32/bool: flat in memory), and the family keys, from which :meth:`chunk` finds the ETFs a chunk's feeders
    follow (in the process that tags the chunk: a forked worker searches for its own chunk's feeders)."""

    def __init__(self, fam: list[str], head: np.ndarray, duplicate: np.ndarray):
        self.fam = fam
        self.head = head
        self.duplicate = duplicate
        self.etfs = EtfFinder(fam).ready(fam)

    def chunk(self, start: int, stop: int) -> ChunkLinks:
        """The links of rows ``start:stop``; the rows they follow outside that range are the context."""
        head = self.head[start:stop].astype(np.int64)
        etf = self.etfs.find(self.fam[start:stop])
        src = np.where(etf >= 0, etf, head)
        context = np.unique(src[(src < start) | (src >= stop)])
        n = stop - start

        def local(g: np.ndarray) -> np.ndarray:
            """Positions in chunk + context; -1 for none, or for a row neither holds."""
            at = np.minimum(np.searchsorted(context, g), max(len(context) - 1, 0))
            in_context = (context[at] == g) if len(context) else np.zeros(len(g), dtype=bool)
            return np.where((g >= start) & (g < stop), g - start, np.where(in_context & (g >= 0), n + at, -1))

        # a feeder's family head outside the chunk is not needed (it follows its ETF): it stands for itself; context
        # rows are tagged only for the scores their followers take, so each follows no other row
        own, ctx = np.arange(n), np.arange(n, n + len(context))
        h = local(head)
        links = pd.DataFrame({"family": self.fam[start:stop] + [self.fam[c] for c in context.tolist()],
                              "head": np.concatenate([np.where(h >= 0, h, own), ctx]),
                              "etf": np.concatenate([local(etf), np.full(len(context), -1)])})
        dup = np.concatenate([self.duplicate[start:stop], self.duplicate[context]])
        return ChunkLinks(context, links, dup)


def part_keys(ids: pd.DataFrame) -> tuple[list[str], pd.Series]:
    """What :func:`file_links` keeps of one part of a file: its rows' family keys and fund codes (from the identifying
    columns, :func:`classifier.prepare.identify`)."""
    return family_keys(ids), fund_codes(ids).astype(object)


def file_links(parts: Iterable[tuple[list[str], pd.Series]]) -> FileLinks:
    """Links and duplicate flags of every row of a file, from :func:`part_keys` of its parts given in file order."""
    fam: list[str] = []
    codes = []
    for keys, part_codes in parts:
        fam += keys
        codes.append(part_codes)
    dup = duplicate_codes(codes=pd.concat(codes, ignore_index=True)) if codes else np.zeros(0, dtype=bool)
    return FileLinks(fam, head_positions(fam).astype(np.int32), dup)
