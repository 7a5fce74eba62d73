"""A fitted :class:`classifier.model.FusedModel` compiled to NumPy arrays for tagging.

Tagging the whole fund universe has a 3-second budget, and importing scikit-learn alone costs about a second. So the
saved artifact is this compiled form: the vectorizers' vocabularies and idf weights, the one-hot categories, the
logistic regressions' coefficients, the scaler and the fusion weights. It reproduces the scikit-learn model's
``predict_proba`` to floating-point summation order (a test checks it to 1e-6) and needs only NumPy and the project's own tokenizer.

Each compiled class has ``to_arrays()`` → (numeric arrays by name, plain JSON fields) and ``from_arrays(arrays, fields)``,
written out field by field (no pickle, no reflection); :mod:`classifier.model_store` writes them as ``model.npz`` +
``model.json``. A loaded model computes with arrays of the same values, dtype and memory order, so its probabilities are
bit-identical to the saved one's.
"""
from __future__ import annotations

import re
from operator import add

import numpy as np
import pandas as pd

from .features import DomainTokenizer, holdings_matrix, per_distinct_row
from .fusion import align, fuse, fusion_features, has_holdings, rule_parts

_WHITE = re.compile(r"\s\s+")
TFIDF_BATCH = 2000  # documents whose terms are held as Python lists at once
SCORE_BLOCK_ROWS = 2000  # documents whose term × class products are held at once


def _softmax(s: np.ndarray) -> np.ndarray:
    s = s - s.max(axis=1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def _lr_proba(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] == 1:  # binary logistic regression: one column of log-odds for the second class
        p1 = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        return np.column_stack([1 - p1, p1])
    return _softmax(scores)


class CompiledTfidf:
    """Vocabulary, idf and analyzer of a fitted TfidfVectorizer (sublinear tf, l2 norm)."""

    def __init__(self, vec, kind: str):
        self.kind = kind
        self.vocab = dict(vec.vocabulary_)
        self.idf = vec.idf_.astype(np.float64)
        self.ngram_range = vec.ngram_range
        self.tokenizer = vec.tokenizer if kind == "words" else None
        self._char_keys = None  # the vocabulary as n-gram numbers in a hash table, made on first use

    def to_arrays(self) -> tuple[dict, dict]:
        n = len(self.idf)
        terms = [None] * n
        for t, j in self.vocab.items():
            terms[j] = t
        if any(t is None for t in terms) or len(self.vocab) != n:
            raise ValueError(f"{self.kind}: vocabulary is not a column numbering 0..{n - 1}")
        fields = {"kind": self.kind, "ngram_range": [int(x) for x in self.ngram_range], "vocabulary": terms}
        if self.kind == "words":
            fields["tokenizer_terms"] = list(self.tokenizer.terms)
        return {"idf": self.idf}, fields

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "CompiledTfidf":
        self = cls.__new__(cls)
        self.kind = fields["kind"]
        if self.kind not in ("chars", "words"):
            raise ValueError(f"unknown vectorizer kind {self.kind!r}")
        terms = fields["vocabulary"]
        self.vocab = {t: j for j, t in enumerate(terms)}
        self.idf = _float_array(arrays["idf"], (len(terms),), f"{self.kind} idf")
        if len(self.vocab) != len(terms) or not all(isinstance(t, str) for t in terms):
            raise ValueError(f"{self.kind}: vocabulary terms must be distinct strings")
        lo, hi = fields["ngram_range"]
        self.ngram_range = (int(lo), int(hi))
        self.tokenizer = None
        self._char_keys = None
        if self.kind == "words":
            # the tokenizer exactly as trained (its terms already hold the structure words of that day)
            tok = DomainTokenizer.__new__(DomainTokenizer)
            tok.__setstate__({"terms": tuple(str(t) for t in fields["tokenizer_terms"])})
            self.tokenizer = tok
        return self

    def _terms(self, doc: str) -> list[str]:
        lo, hi = self.ngram_range
        if self.kind == "chars":
            doc = _WHITE.sub(" ", doc)
            if (lo, hi) == (1, 3):  # the model's n-grams, built by joining shifted copies (same terms, same order)
                two = list(map(add, doc, doc[1:]))
                return [*doc, *two, *map(add, two, doc[2:])]
            n = len(doc)
            return [doc[i:i + k] for k in range(lo, min(hi, n) + 1) for i in range(n - k + 1)]
        toks = self.tokenizer(doc)
        if (lo, hi) == (1, 2):  # the model's: the words, then each pair of words in a row
            return [*toks, *map(" ".join, zip(toks, toks[1:]))]
        out = list(toks) if lo == 1 else []
        for k in range(max(lo, 2), hi + 1):  # each run of k words, in order
            out += map(" ".join, zip(*(toks[j:] for j in range(k))))
        return out

    def transform(self, docs: list[str]):
        """(row index, column index, value) triplets of the tf-idf matrix, rows l2-normalized.

        Terms are counted per document in Python; weights and norms are computed a batch of documents at a time, each
        row's sum of squares as NumPy sums a row on its own (pairwise), so the values are those of a row-by-row loop
        to the last bit."""
        parts = [self._batch(docs[s:s + TFIDF_BATCH], s) for s in range(0, len(docs), TFIDF_BATCH)]
        parts = [p for p in parts if len(p[0])]
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return tuple(np.concatenate(x) for x in zip(*parts))

    def _counts(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per document, its vocabulary columns with their counts, in the order the columns first occur (the order
        the row is summed in): (columns, counts, columns per document)."""
        if self.kind == "chars" and tuple(self.ngram_range) == (1, 3):
            return self._char_counts(docs)
        get = self.vocab.get
        cols: list[int] = []
        lengths: list[int] = []
        for d in docs:
            # terms outside the vocabulary are left out (the others keep their order)
            js = [j for j in map(get, self._terms(d)) if j is not None]
            cols += js
            lengths.append(len(js))
        doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
        return _first_counts(doc, np.array(cols, dtype=np.int64), len(docs), len(self.vocab))

    def _char_counts(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_counts` of character 1–3-grams, in NumPy: each n-gram is a number (its code points + 1, 21 bits
        each), looked up among the numbers of the vocabulary's terms. A document's n-grams are its characters,
        then its pairs, then its triples, each in text order, as :meth:`_terms` lists them."""
        if self._char_keys is None:
            # the numbers of the vocabulary's 1–3-character terms (distinct terms, distinct numbers; a longer term is
            # never matched) in a hash table: looking an n-gram up is one probe, not a binary search (the fund
            # list's ~280k n-grams: 21 → 3 ms against the text model's 6.5k terms)
            keys = np.array([_ngram_key(t) for t in self.vocab], dtype=np.int64)
            short = keys >= 0
            self._char_keys = (pd.Index(keys[short]),
                               np.fromiter(self.vocab.values(), np.int64, len(self.vocab))[short])
        vkeys, vcols = self._char_keys
        if len(vkeys) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(len(docs), np.int64)
        # runs of whitespace made one space, as the vectorizer did; most batches hold none, which one search over
        # them all says (NUL, between the documents, is no whitespace: no run crosses two of them)
        texts = [_WHITE.sub(" ", d) for d in docs] if _WHITE.search("\0".join(docs)) else docs
        n = len(texts)
        lens = np.fromiter(map(len, texts), np.int64, n)
        cp = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64) + 1
        doc = np.repeat(np.arange(n, dtype=np.int64), lens)
        pos = np.arange(len(cp), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
        rest = np.repeat(lens, lens) - pos  # characters from this one to the end of its document
        two, three = np.flatnonzero(rest >= 2), np.flatnonzero(rest >= 3)
        key = np.concatenate([cp, (cp[two] << 21) | cp[two + 1],
                              (cp[three] << 42) | (cp[three + 1] << 21) | cp[three + 2]])
        doc = np.concatenate([doc, doc[two], doc[three]])
        seq = np.argsort(doc, kind="stable")  # each document's characters, pairs, triples, in order
        key, doc = key[seq], doc[seq]
        at = vkeys.get_indexer(key)
        known = at >= 0
        col, doc = vcols[at[known]], doc[known]
        if len(col) == 0:  # no n-gram of any document is in the vocabulary (e.g. every document empty)
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(n, np.int64)
        return _first_counts(doc, col, n, len(self.vocab))

    def _batch(self, docs: list[str], first: int):
        js, tf, n_terms = self._counts(docs)
        v = (1.0 + np.log(tf.astype(np.float64))) * self.idf[js]
        starts = np.cumsum(n_terms) - n_terms
        sq = v * v
        norm = np.zeros(len(docs))
        for k in np.unique(n_terms[n_terms > 0]):  # rows with k terms: one (rows × k) block, summed along each row
            r = np.flatnonzero(n_terms == k)
            norm[r] = sq[starts[r][:, None] + np.arange(k)].sum(axis=1)
        v /= np.repeat(np.sqrt(norm), n_terms)
        return first + np.repeat(np.arange(len(docs)), n_terms), js, v


def _first_counts(doc: np.ndarray, col: np.ndarray, n: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (columns, counts, columns per document) of :meth:`CompiledTfidf._counts` from every vocabulary term of
    ``n`` documents as (document, column), documents in order: each document's distinct columns in the order they
    first occur in it (the order its row is summed in), numbered by a hash table that keeps that order
    (``pd.factorize``), and counted. ``width``: more than any column."""
    ids, pairs = pd.factorize(doc * width + col, sort=False)
    return pairs % width, np.bincount(ids, minlength=len(pairs)), np.bincount(pairs // width, minlength=n)


def _ngram_key(term: str) -> int:
    """The number :meth:`CompiledTfidf._char_counts` gives a 1–3-character n-gram (-1 for a longer term: never
    matched)."""
    if not 1 <= len(term) <= 3:
        return -1
    key = 0
    for ch in term:
        key = (key << 21) | (ord(ch) + 1)
    return key


def _plain_str(v) -> str:
    if not isinstance(v, str):
        raise ValueError(f"category {v!r} is a {type(v).__name__}, not text: the JSON model file keeps text only")
    return str(v)


def _float_array(a, shape: tuple | None, what: str) -> np.ndarray:
    """A loaded array checked to be float64 of the expected shape (None in ``shape``: any length)."""
    if not isinstance(a, np.ndarray) or a.dtype != np.float64:
        raise ValueError(f"{what}: expected a float64 array, got {getattr(a, 'dtype', type(a).__name__)}")
    if shape is not None and (a.ndim != len(shape) or any(w is not None and w != n for w, n in zip(shape, a.shape))):
        raise ValueError(f"{what}: shape {a.shape}, expected {shape}")
    return a


def sparse_scores(n: int, rows, cols, vals, W: np.ndarray) -> np.ndarray:
    """Σ_j x_ij W_jk for a sparse x given as triplets (rows sorted ascending)."""
    out = np.zeros((n, W.shape[1]))
    if len(rows):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        # a block of whole rows at a time: each row's terms × classes products exist only while its block is summed
        # (all at once they were ~100 MB for the fund list); each row is summed over its own terms as before
        for b in range(0, len(starts), SCORE_BLOCK_ROWS):
            first = starts[b:b + SCORE_BLOCK_ROWS]
            lo, hi = first[0], (starts[b + SCORE_BLOCK_ROWS] if b + SCORE_BLOCK_ROWS < len(starts) else len(rows))
            contrib = vals[lo:hi, None] * W[cols[lo:hi]]
            out[rows[first]] = np.add.reduceat(contrib, first - lo, axis=0)
    return out


class CompiledTextModel:
    def __init__(self, text_model):
        pipe = text_model.pipeline_
        ct, lr = pipe.named_steps["features"], pipe.named_steps["clf"]
        self.classes_ = np.array(text_model.classes_, dtype=object)
        self.votes = list(text_model.votes_)
        w = ct.transformer_weights or {}
        coef = lr.coef_.T.astype(np.float64)  # D × K'
        self.intercept = lr.intercept_.astype(np.float64)
        offset = 0
        self.blocks = []
        for name, trans, cols in ct.transformers_:
            if name == "remainder":
                continue
            weight = float(w.get(name, 1.0))
            if name in ("chars", "words"):
                t = CompiledTfidf(trans, name)
                width = len(t.idf)
                self.blocks.append((name, t, cols, weight, coef[offset:offset + width]))
            elif name == "votes":
                width = len(cols)
                self.blocks.append((name, None, list(cols), weight, coef[offset:offset + width]))
            elif name == "cats":
                cats = [list(c) for c in trans.categories_]
                width = sum(len(c) for c in cats)
                self.blocks.append((name, cats, list(cols), weight, coef[offset:offset + width]))
            else:  # pragma: no cover - only the four blocks above are built by TextModel
                raise ValueError(f"cannot compile block {name}")
            offset += width
        if offset != coef.shape[0]:
            raise ValueError(f"compiled width {offset} != model width {coef.shape[0]}")

    def to_arrays(self) -> tuple[dict, dict]:
        arrays = {"intercept": self.intercept}
        blocks = []
        for name, obj, cols, weight, W in self.blocks:
            arrays[f"{name}.coef"] = W
            b = {"name": name, "columns": cols, "weight": float(weight)}
            if name in ("chars", "words"):
                a, f = obj.to_arrays()
                arrays.update({f"{name}.{k}": v for k, v in a.items()})
                b["vectorizer"] = f
            elif name == "cats":
                b["categories"] = [[_plain_str(c) for c in cats] for cats in obj]
            blocks.append(b)
        fields = {"classes": [str(c) for c in self.classes_], "votes": list(self.votes), "blocks": blocks}
        return arrays, fields

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "CompiledTextModel":
        self = cls.__new__(cls)
        self.classes_ = np.array(fields["classes"], dtype=object)
        self.votes = list(fields["votes"])
        k = len(self.classes_) if len(self.classes_) > 2 else 1
        self.intercept = _float_array(arrays["intercept"], (k,), "text intercept")
        self.blocks = []
        for b in fields["blocks"]:
            name, cols, weight = b["name"], b["columns"], float(b["weight"])
            if name in ("chars", "words"):
                obj = CompiledTfidf.from_arrays({k2[len(name) + 1:]: v for k2, v in arrays.items()
                                          if k2.startswith(name + ".") and k2 != f"{name}.coef"}, b["vectorizer"])
                width = len(obj.idf)
            elif name == "votes":
                obj, cols = None, list(cols)
                width = len(cols)
            elif name == "cats":
                obj, cols = [list(c) for c in b["categories"]], list(cols)
                width = sum(len(c) for c in obj)
            else:
                raise ValueError(f"unknown text-model block {name!r}")
            W = _float_array(arrays[f"{name}.coef"], (width, k), f"text {name} coefficients")
            self.blocks.append((name, obj, cols, weight, W))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return per_distinct_row(X, self._proba)

    def _proba(self, U: pd.DataFrame) -> np.ndarray:
        n = len(U)
        scores = np.tile(self.intercept, (n, 1))
        for name, obj, cols, weight, W in self.blocks:
            if name in ("chars", "words"):
                r, c, v = obj.transform(U[cols].tolist())
                scores += sparse_scores(n, r, c, v * weight, W)
            elif name == "votes":
                scores += (U[cols].to_numpy(np.float64) * weight) @ W
            else:
                off = 0
                for col, cats in zip(cols, obj):
                    pos = {c: i for i, c in enumerate(cats)}
                    idx = np.array([pos.get(v, -1) for v in U[col].tolist()])
                    hit = idx >= 0
                    scores[hit] += weight * W[off + idx[hit]]
                    off += len(cats)
        return _lr_proba(scores)


class CompiledHoldingsModel:
    def __init__(self, hold_model):
        pipe = hold_model.pipeline_
        sc, lr = pipe.named_steps["scale"], pipe.named_steps["clf"]
        self.classes_ = np.array(hold_model.classes_, dtype=object)
        self.columns_ = list(hold_model.columns_)
        self.mean, self.scale = sc.mean_.astype(np.float64), sc.scale_.astype(np.float64)
        self.coef, self.intercept = lr.coef_.T.astype(np.float64), lr.intercept_.astype(np.float64)

    def to_arrays(self) -> tuple[dict, dict]:
        return ({"mean": self.mean, "scale": self.scale, "coef": self.coef, "intercept": self.intercept},
                {"classes": [str(c) for c in self.classes_], "columns": list(self.columns_)})

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "CompiledHoldingsModel":
        self = cls.__new__(cls)
        self.classes_ = np.array(fields["classes"], dtype=object)
        self.columns_ = list(fields["columns"])
        d, k = len(self.columns_), len(self.classes_) if len(self.classes_) > 2 else 1
        self.mean = _float_array(arrays["mean"], (d,), "holdings mean")
        self.scale = _float_array(arrays["scale"], (d,), "holdings scale")
        self.coef = _float_array(arrays["coef"], (d, k), "holdings coefficients")
        self.intercept = _float_array(arrays["intercept"], (k,), "holdings intercept")
        return self

    def predict_proba(self, H: pd.DataFrame) -> np.ndarray:
        Z = (H[self.columns_].to_numpy(np.float64) - self.mean) / self.scale
        return _lr_proba(Z @ self.coef + self.intercept)


class CompiledModel:
    """Drop-in for a fitted FusedModel at tagging time: same ``classes_``, ``holdings_columns_``, ``predict_proba``."""

    def __init__(self, fused, agreement=None):
        # duck-typed: inference sits below the training code (classifier.model) and does not import it
        if not all(hasattr(fused, a) for a in ("classes_", "weights_", "text_", "hold_", "holdings_columns_")):
            raise TypeError("CompiledModel compiles a fitted FusedModel")
        self.classes_ = np.array(fused.classes_, dtype=object)
        self.weights_ = np.array(fused.weights_, dtype=np.float64)
        self.holdings_columns_ = list(fused.holdings_columns_)
        self.text_ = CompiledTextModel(fused.text_)
        self.hold_ = CompiledHoldingsModel(fused.hold_) if fused.hold_ is not None else None
        self.agreement_ = agreement  # doubt signals → reader agreement (classifier.doubt), or None

    FIELDS = ("classes_", "weights_", "holdings_columns_", "text_", "hold_", "agreement_")

    def to_arrays(self) -> tuple[dict, dict]:
        """(numeric arrays by name, JSON-ready fields): everything :meth:`from_arrays` needs, nothing pickled."""
        extra = set(vars(self)) - set(self.FIELDS)
        if extra:  # a new attribute would be silently lost on save
            raise ValueError(f"CompiledModel.to_arrays does not know the attributes {sorted(extra)}")
        arrays = {"fusion.weights": self.weights_}
        fields = {"classes": [str(c) for c in self.classes_], "holdings_columns": list(self.holdings_columns_)}
        parts = (("text", self.text_), ("hold", self.hold_), ("agreement", self.agreement_))
        for name, part in parts:
            if part is None:
                fields[name] = None
                continue
            a, f = part.to_arrays()
            arrays.update({f"{name}.{k}": v for k, v in a.items()})
            fields[name] = f
        return arrays, fields

    @classmethod
    def from_arrays(cls, arrays: dict, fields: dict) -> "CompiledModel":
        from .doubt import AgreementCalibrator

        def part(name):
            return {k[len(name) + 1:]: v for k, v in arrays.items() if k.startswith(name + ".")}

        self = cls.__new__(cls)
        self.classes_ = np.array(fields["classes"], dtype=object)
        self.weights_ = _float_array(arrays["fusion.weights"], (None,), "fusion weights")
        self.holdings_columns_ = list(fields["holdings_columns"])
        self.text_ = CompiledTextModel.from_arrays(part("text"), fields["text"])
        self.hold_ = CompiledHoldingsModel.from_arrays(part("hold"), fields["hold"]) if fields["hold"] else None
        self.agreement_ = (AgreementCalibrator.from_arrays(part("agreement"), fields["agreement"])
                           if fields["agreement"] else None)
        known = {f"{n}." for n in ("fusion", "text", "hold", "agreement")}
        stray = sorted(k for k in arrays if not any(k.startswith(p) for p in known))
        if stray:
            raise ValueError(f"arrays no part of the model reads: {stray}")
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.components(X)[0]

    def components(self, X: pd.DataFrame):
        """(fused, text-model and holdings-model probabilities, has-holdings flags) of a
        :func:`classifier.features.featurize` frame; holdings are its ``hold::`` columns."""
        H = holdings_matrix(X, self.holdings_columns_) if self.hold_ is not None else None
        has = has_holdings(H, len(X))
        p_text = align(self.text_.predict_proba(X), self.text_.classes_, self.classes_)
        p_hold = np.full_like(p_text, 1.0 / len(self.classes_))
        if has.any():
            p_hold[has] = align(self.hold_.predict_proba(H[has]), self.hold_.classes_, self.classes_)
        F = fusion_features(p_text, p_hold, has, *rule_parts(X, self.classes_))
        return fuse(self.weights_, F), p_text, p_hold, has


__all__ = ["CompiledModel", "DomainTokenizer"]
