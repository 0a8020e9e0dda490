"""Data sets, training, evaluation and retraining of genre models."""
