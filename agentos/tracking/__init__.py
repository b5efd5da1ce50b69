"""Run tracking: every learn/run/bench is an MLflow run (see ``agentos.tracking.store``)."""
