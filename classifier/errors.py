"""Errors the library raises; the CLI turns each into a one-line message and exit code 2."""


class FundClassifierError(Exception):
    """Base class: a problem the user can fix (bad file, wrong taxonomy, missing model)."""


class TaxonomyError(FundClassifierError):
    """The taxonomy file is missing, unreadable or inconsistent."""


class InputError(FundClassifierError):
    """An input file cannot be read or lacks what the tool needs; the message names the file, row or column."""


class ModelError(FundClassifierError):
    """A model cannot be loaded: missing, hash mismatch, or trained for another taxonomy."""


class DecisionsNotApplied(UserWarning):
    """Review decisions of a labeled set that a tagger read but cannot apply (of another taxonomy version, without a
    version, or with a label that is not a class): their funds are tagged by the model, as if never reviewed. The
    message names the rows. ``fundclass tag`` says the same in its run summary."""


class ChangeRecovered(UserWarning):
    """A change to the labeled set, or a model save (`fundclass train`), that a killed or crashed command left part
    way was settled by this command: completed (it was committed) or cleared away (it was not). The command line
    prints it as a warning."""
