"""Errors the library raises; the CLI turns each into a one-line message and exit code 2."""


class FundClassifierError(Exception):
    """Base class: a problem the user can fix (bad file, wrong taxonomy, missing model)."""


class TaxonomyError(FundClassifierError):
    """The taxonomy file is missing, unreadable or inconsistent."""


class InputError(FundClassifierError):
    """An input file cannot be read or lacks what the tool needs; the message names the file, row or column."""


class ModelError(FundClassifierError):
    """A model cannot be loaded: missing, hash mismatch, or trained for another taxonomy."""
