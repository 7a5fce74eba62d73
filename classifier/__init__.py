"""fund-classifier: a two-level taxonomy category, a calibrated confidence and the evidence for every Chinese ETF and
index fund.

>>> import pandas as pd
>>> from classifier import Tagger
>>> tagger = Tagger.load()          # the shipped model in models/default and the default taxonomy
>>> frame = pd.DataFrame({"基金简称": ["华夏中证机器人ETF", "银华日利"]})
>>> tagger.tag(frame)[["secondary", "asset_class"]].values.tolist()
[['科技成长主题ETF', '股票'], ['不适用', '货币']]
"""
from .errors import DecisionsNotApplied, FundClassifierError, InputError, ModelError, TaxonomyError

__version__ = "0.1.0"
__all__ = ["Tagger", "Taxonomy", "load_taxonomy", "OUTPUT_COLUMNS", "FundClassifierError", "InputError", "ModelError",
           "TaxonomyError", "DecisionsNotApplied", "__version__"]

# imported when first used (PEP 562): a command that needs no pandas (``fundclass --help``, ``init``) starts without it
_LAZY = {"Tagger": "pipeline", "OUTPUT_COLUMNS": "pipeline", "Taxonomy": "taxonomy", "load_taxonomy": "taxonomy"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
