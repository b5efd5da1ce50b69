"""Offline datasets in Minari's format: storage (record, read, digest) and the dataset component."""
