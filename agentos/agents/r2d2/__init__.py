"""R2D2: recurrent experience replay in distributed reinforcement learning.

Kapturowski et al. (2019), https://openreview.net/forum?id=r1lyTjAqYX . ``losses`` holds the
pure RL math (value rescaling, n-step double-Q and transformed Retrace targets, TD loss,
sequence priorities, the Ape-X epsilon ladder) shared with Agent57.
"""
