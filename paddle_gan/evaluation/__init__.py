"""Evaluation: the metrics (numpy), the evaluator classifier and the scores of a checkpoint.

Imports static/, nn/ and the top-level modules."""
