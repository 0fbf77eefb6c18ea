"""The Sacred-style Experiment API: experiments, ingredients, captured functions, runs."""

from gitxp.experiment.experiment import Experiment
from gitxp.experiment.ingredient import Ingredient

__all__ = ["Experiment", "Ingredient"]
