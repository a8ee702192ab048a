"""Pure signposting domain: models, ranking, eligibility, metrics, explanations (no I/O)."""
