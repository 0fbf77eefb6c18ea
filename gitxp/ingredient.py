"""Sacred's ``sacred.ingredient`` import path (a shim: the code is in gitxp/experiment/)."""

from gitxp.experiment.ingredient import Ingredient

__all__ = ["Ingredient"]
