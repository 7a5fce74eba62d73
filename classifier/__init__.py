"""fund-classifier: a two-level taxonomy category, a calibrated confidence and the evidence for every Chinese ETF and
index fund.

>>> import pandas as pd
>>> from classifier import Tagger
>>> tagger = Tagger.load()          # the shipped model in models/default and the default taxonomy
>>> frame = pd.DataFrame({"基金简称": ["华夏中证机器人ETF", "银华日利"]})
>>> tagger.tag(frame)[["secondary", "asset_class"]].values.tolist()
[['科技成长主题ETF', '股票'], ['不适用', '货币']]
"""
from .errors import FundClassifierError, InputError, ModelError, TaxonomyError
from .pipeline import OUTPUT_COLUMNS, Tagger
from .taxonomy import Taxonomy, load_taxonomy

__version__ = "0.1.0"
__all__ = ["Tagger", "Taxonomy", "load_taxonomy", "OUTPUT_COLUMNS", "FundClassifierError", "InputError", "ModelError",
           "TaxonomyError", "__version__"]
