"""R2D2 / Agent57 on Atari: learner updates/s at the papers' sizes, replay and checkpoint bytes.

The r2d2 bundle on ``ALE/Pong-v5`` (84x84x1 uint8 frames) with R2D2's network and batch
(Kapturowski et al. 2019, Table 2): Nature conv torso, LSTM 512, dueling head 512, batch 32
sequences of 80 steps (burn-in 40 + trace 40). ``--agent agent57``: the agent57 bundle at
NGU's sizes (batch 64 of burn-in 40 + trace 80, LSTM 512; both Q-networks, embedding/IDM
and RND). The replay is filled by the bundle's actor on 8 copies, then ``learner.step`` is
timed after compilation. Also measured: the bytes one stored sequence takes (so the replay
per 100,000 sequences) and the bytes a checkpoint of the replay takes per sequence. Runs on
whatever JAX finds (CPU here; a CUDA JAX uses the GPU). Prints JSON lines.

    python benchmarks/atari_learner.py [--updates 10] [--sequences 64] [--agent agent57]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from filled_replay import filled_agent  # noqa: E402

PAPER = [
    "network.lstm_size=512",
    "network.head_hidden=512",
    "actor.burn_in=40",
    "actor.trace_length=40",
    "actor.period=40",
    "learner.batch_size=32",
    "replay.capacity=2000",
    "environment.num_envs=8",
]

AGENT57_PAPER = [
    # NGU/Agent57 (Badia et al. 2020, Table 4 / Appendix F): batch 64, trace 80, burn-in 40.
    "network.lstm_size=512",
    "network.head_hidden=512",
    "actor.burn_in=40",
    "actor.trace_length=80",
    "actor.period=40",
    "learner.batch_size=64",
    "replay.capacity=2000",
    "environment.num_envs=8",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--sequences", type=int, default=64, help="replay fill before timing")
    parser.add_argument("--agent", choices=["r2d2", "agent57"], default="r2d2")
    args = parser.parse_args()
    import jax

    from agentos.replay.memory import human, item_bytes
    from agentos.runtime.checkpoint import save_checkpoint

    sizes = PAPER if args.agent == "r2d2" else AGENT57_PAPER
    with filled_agent(args.agent, "gym:ALE/Pong-v5", sizes, args.sequences) as agent:
        learner, replay = agent.learner, agent.replay
        learner.step(1)  # compile
        t0 = time.perf_counter()
        learner.step(args.updates)
        wall = time.perf_counter() - t0
        per_sequence = item_bytes(replay.sample(1).items)
        ckpt = save_checkpoint(agent.folder / "replay.msgpack", replay.state_dict())
        per_sequence_ckpt = ckpt.stat().st_size / len(replay)
        acting = agent.acting_env_steps_per_s
    print(json.dumps({
        "benchmark": f"{args.agent}_atari_learner", "device": jax.devices()[0].platform,
        "batch": learner.batch_size, "sequence_length": 80 if args.agent == "r2d2" else 120,
        "lstm_size": 512, "torso": "nature_conv",
        "updates": args.updates, "wall_s": round(wall, 2),
        "updates_per_s": round(args.updates / wall, 3),
        "acting_env_steps_per_s": round(acting, 1),
    }))  # fmt: skip
    print(json.dumps({
        "benchmark": f"{args.agent}_atari_replay_bytes",
        "sequence_length": 80 if args.agent == "r2d2" else 120,
        "bytes_per_sequence": per_sequence,
        "replay_per_100k_sequences": human(per_sequence * 100_000),
        "checkpoint_bytes_per_sequence": round(per_sequence_ckpt),
        "checkpoint_per_100k_sequences": human(per_sequence_ckpt * 100_000),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
