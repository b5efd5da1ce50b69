"""Agent57 (Badia et al. 2020): NGU intrinsic rewards, split values, meta-controller."""
