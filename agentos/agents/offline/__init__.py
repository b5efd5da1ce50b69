"""Offline learners: behaviour cloning and discrete CQL on recorded datasets."""
