"""The click layer: one module per group of verbs, each calling a typed function below it."""
