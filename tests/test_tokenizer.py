"""The model's word tokenizer cuts exactly as jieba does (accurate mode, no HMM) over the taxonomy's terms."""
import io
import logging
import random

import pandas as pd
import pytest

from conftest import ROOT

from classifier.features import RE_HAN, RE_SKIP, DomainTokenizer, prefix_dict
from classifier.labeled import read_labels
from classifier.manifest import load_model

TERMS_FROM_MODEL = "models/default"


@pytest.fixture(scope="module")
def tokenizers(taxonomy):
    model, _ = load_model(ROOT / TERMS_FROM_MODEL, taxonomy)
    terms = next(b[1].tokenizer.terms for b in model.text_.blocks if b[0] == "words")
    ours = DomainTokenizer.__new__(DomainTokenizer)
    ours.__setstate__({"terms": terms})
    # imported here, not at the top: ~0.35 s, and every pytest-xdist worker imports every test file to collect it
    import jieba

    jieba.setLogLevel(logging.WARNING)
    ref = jieba.Tokenizer()
    ref.FREQ, ref.total = ref.gen_pfdict(io.BytesIO("\n".join(f"{t} 1000" for t in terms if " " not in t).encode()))
    ref.initialized = True
    return ours, ref, terms


def _strings(terms):
    labels = read_labels(ROOT / "data/labeled/labels.csv")
    real = pd.concat([labels[c] for c in ("fund_name", "full_name", "index_name")]).drop_duplicates().tolist()
    rng = random.Random(7)
    alphabet = (list("中证半导体沪深300ETF联接AaBb 12\t\r\n.%-+#&_x国证指数科技医药()（）,;|")
                + [chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(40)] + list(terms[:300]))
    made = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(2000)]
    return real + made + ["", " ", "ABC123中证500", "5G通信", "a b", "沪深300\r\n红利"]


def test_cuts_every_string_as_jieba_does(tokenizers):
    ours, ref, terms = tokenizers
    cutter = ours._build()
    strings = _strings(terms)
    differ = [s for s in strings if cutter.cut(s) != ref.lcut(s, HMM=False)]
    assert len(strings) > 3000 and differ == []


def test_fields_are_cut_as_the_whole_text(tokenizers):
    ours, ref, _ = tokenizers
    text = "中证半导体产业|华夏中证半导体ETF联接A|华夏中证半导体产业交易型开放式指数证券投资基金联接基金|中证500"
    assert ours(text) == [w for w in ref.lcut(text, HMM=False) if w.strip() and w != "|"]


def test_dictionary_and_alphabet_are_jiebas(tokenizers):
    import jieba

    _, ref, terms = tokenizers
    assert prefix_dict(terms) == (ref.FREQ, ref.total)
    assert len(ref.FREQ) > len(terms) > 100
    assert (RE_HAN.pattern, RE_HAN.flags) == (jieba.re_han_default.pattern, jieba.re_han_default.flags)
    assert (RE_SKIP.pattern, RE_SKIP.flags) == (jieba.re_skip_default.pattern, jieba.re_skip_default.flags)


def test_a_term_jieba_would_refuse_is_refused():
    with pytest.raises(ValueError, match="line 2"):
        prefix_dict(["半导体", "", "沪深300"])


def test_character_ngrams_are_counted_as_the_analyzer_lists_them(taxonomy):
    """The NumPy count of character 1–3-grams gives the columns, counts and order of counting the analyzer's terms
    one by one (the order matters: a row's weights are summed in it)."""
    model, _ = load_model(ROOT / TERMS_FROM_MODEL, taxonomy)
    chars = next(b[1] for b in model.text_.blocks if b[0] == "chars")
    vocab = chars.vocab
    strings = _strings(list(vocab)) + ["\x00a\x00", "\U0010FFFF" * 4, "😀😀ETF", "ＥＴＦ\u3000\u3000基金", "  x  y  "]
    for s in range(0, len(strings), 500):
        _assert_counted_as_listed(chars, strings[s:s + 500])


def _assert_counted_as_listed(chars, docs: list[str]) -> list[int]:
    """``chars._char_counts(docs)`` equals a count of the n-grams ``chars._terms`` lists that the vocabulary holds;
    returns the number of distinct counted n-grams per document."""
    from collections import Counter

    import numpy as np

    cols, tf, lengths = [], [], []
    for d in docs:
        counts = Counter(map(chars.vocab.get, chars._terms(d)))
        counts.pop(None, None)
        cols += counts.keys()
        tf += counts.values()
        lengths.append(len(counts))
    got = chars._char_counts(docs)
    for want, have in zip((cols, tf, lengths), got):
        assert np.array_equal(np.array(want, dtype=np.int64), have)
    return lengths


def test_character_ngrams_of_a_vocabulary_with_longer_terms_are_counted_as_the_analyzer_lists_them():
    """The n-gram numbers are looked up in a hash table of the vocabulary's 1–3-character terms: terms of more
    characters (which no 1–3-gram matches, and which all numbered -1 before) are left out of it, not made a
    duplicate key; whitespace runs, here in some documents of a batch only, are one space as before."""
    import numpy as np

    from classifier.inference import CompiledTfidf

    terms = ["中", "中证", "中证5", "中证500", "沪深300", "证", " ", "a b", "0", "00", "ETF联接"]
    chars = CompiledTfidf.from_arrays({"idf": np.ones(len(terms))},
                                      {"kind": "chars", "ngram_range": [1, 3], "vocabulary": terms})
    docs = ["中证500ETF联接A", "", "沪深300", "a  b\t\t中证", "中", "中证中证中", "000"]
    assert sum(_assert_counted_as_listed(chars, docs)) > 10
