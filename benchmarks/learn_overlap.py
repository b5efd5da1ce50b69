"""Learning speed with and without the learner's update overlapping acting, side by side.

A preset of ``learn_speed_variants.py`` (same options, same JSON): each round runs one
``learn`` with ``loop.overlap_learning=true`` and one with ``false``, the bundle's defaults
otherwise; the summary gives the medians and the ratio of wait to overlap.

    python benchmarks/learn_overlap.py --env gym:MiniGrid-MultiRoom-N2-S4-v0 --rounds 3
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from learn_speed_variants import main  # noqa: E402

if __name__ == "__main__":
    main(
        ["overlap=loop.overlap_learning=true", "wait=loop.overlap_learning=false"],
        __doc__.splitlines()[0],
    )
