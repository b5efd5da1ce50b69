"""d3rlpy's DiscreteCQL on a dataset exported by ``benchmarks/offline_cartpole.py``, run in a
separate interpreter: the anchor rows of that benchmark.

d3rlpy 2.8.1 requires gymnasium==1.0.0 while agentos pins gymnasium 1.4, so the two cannot be
installed in one environment. This script imports only d3rlpy, numpy and gymnasium (never
agentos) and runs in a venv of its own, made once outside the repository:

    python -m venv /work/venvs/d3rlpy
    /work/venvs/d3rlpy/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
    /work/venvs/d3rlpy/bin/pip install d3rlpy box2d==2.3.10 pygame  # d3rlpy 2.8.1, gymnasium 1.0.0

(plain ``pip install torch`` also works where that index is unreachable: CUDA wheels, larger).
Then ``python benchmarks/offline_cartpole.py ... --d3rlpy-python /work/venvs/d3rlpy/bin/python``
calls it once per dataset and seed:

    PYTHON d3rlpy_cql_worker.py --data DATA.npz --config CONFIG.json

``DATA.npz`` holds d3rlpy's flat MDPDataset arrays (``observations``, ``actions``,
``rewards``, ``terminals``, ``timeouts``: one row per step, an episode ending at the row whose
terminal or timeout flag is set; a truncated episode carries its final observation as one more
row, so d3rlpy bootstraps from it as agentos does). ``CONFIG.json`` holds the hyperparameters
of agentos's CQL learner and Q-network (``learning_rate``, ``batch_size``, ``gamma``,
``target_update_interval``, ``alpha``, ``adam_eps``, ``clip_grad_norm``, ``hidden_units``,
``layer_norm``) and the run (``updates``, ``eval_episodes``, ``env``, ``seed``,
``torch_threads``: torch's intra-op threads, 0 for torch's default). Where the two still
differ (d3rlpy offers no option for these): d3rlpy's TD loss is always Huber with delta 1,
agentos's CQL default the squared error of CQL's eq. (4) (``huber_delta`` 0, recorded in the
config, not used here); d3rlpy's encoder puts LayerNorm after the activation, agentos's
before it; d3rlpy's layers start from PyTorch's default initialisation (weights and biases
uniform in +-1/sqrt(fan_in)), agentos's from Flax's (LeCun normal weights, zero biases); and
d3rlpy copies the target network after the first update and then every interval, agentos
after every interval.

It trains ``DiscreteCQL`` for ``updates`` gradient steps (``fit(n_steps=...)``, no logging to
disk), plays ``eval_episodes`` greedy episodes (``predict``) in ``env``, reset with seeds
``1_000_000 + 7919 * seed + i``, and prints one JSON line: ``return_mean``, ``returns``,
``wall_s`` (dataset, training and evaluation, imports excluded), ``fit_s``, ``eval_s`` and the
versions used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time

import gymnasium
import numpy as np


def build_dataset(data: dict) -> object:
    """The d3rlpy MDPDataset of the exported arrays."""
    import d3rlpy

    return d3rlpy.dataset.MDPDataset(
        observations=np.asarray(data["observations"], np.float32),
        actions=np.asarray(data["actions"], np.int64),
        rewards=np.asarray(data["rewards"], np.float32),
        terminals=np.asarray(data["terminals"], np.float32),
        timeouts=np.asarray(data["timeouts"], np.float32),
        action_space=d3rlpy.ActionSpace.DISCRETE,
    )


def make_cql(config: dict) -> object:
    """DiscreteCQL with agentos's hyperparameters."""
    import d3rlpy

    return d3rlpy.algos.DiscreteCQLConfig(
        learning_rate=config["learning_rate"],
        batch_size=config["batch_size"],
        gamma=config["gamma"],
        target_update_interval=config["target_update_interval"],
        alpha=config["alpha"],
        optim_factory=d3rlpy.optimizers.AdamFactory(
            eps=config["adam_eps"], clip_grad_norm=config["clip_grad_norm"] or None
        ),
        encoder_factory=d3rlpy.models.VectorEncoderFactory(
            hidden_units=list(config["hidden_units"]), use_layer_norm=config["layer_norm"]
        ),
    ).create(device="cpu:0")


def evaluate(algo: object, env_id: str, episodes: int, seed: int) -> list[float]:
    """Undiscounted returns of ``episodes`` greedy episodes."""
    env = gymnasium.make(env_id)
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=1_000_000 + 7919 * seed + i)
        total, done = 0.0, False
        while not done:
            action = int(algo.predict(np.asarray(obs, np.float32)[None])[0])
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def run(data: dict, config: dict) -> dict:
    """Train and evaluate; the result row."""
    import d3rlpy
    import torch
    from d3rlpy.logging import NoopAdapterFactory

    if int(config.get("torch_threads", 0)) > 0:
        torch.set_num_threads(int(config["torch_threads"]))
    d3rlpy.seed(int(config["seed"]))
    t0 = time.perf_counter()
    dataset = build_dataset(data)
    algo = make_cql(config)
    updates = int(config["updates"])
    t1 = time.perf_counter()
    algo.fit(
        dataset,
        n_steps=updates,
        n_steps_per_epoch=updates,
        logger_adapter=NoopAdapterFactory(),
        show_progress=False,
        save_interval=updates + 1,
    )
    t2 = time.perf_counter()
    returns = evaluate(algo, config["env"], int(config["eval_episodes"]), int(config["seed"]))
    t3 = time.perf_counter()
    return {
        "return_mean": float(np.mean(returns)),
        "returns": returns,
        "updates": updates,
        "transitions": int(dataset.transition_count),
        "wall_s": round(t3 - t0, 2),
        "fit_s": round(t2 - t1, 2),
        "eval_s": round(t3 - t2, 2),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "d3rlpy": d3rlpy.__version__,
            "torch": torch.__version__,
            "gymnasium": gymnasium.__version__,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help=".npz of the MDPDataset arrays")
    parser.add_argument("--config", required=True, help="JSON file of the hyperparameters")
    args = parser.parse_args()
    with open(args.config) as file:
        config = json.load(file)
    with np.load(args.data) as npz:
        data = {key: npz[key] for key in npz.files}
    with contextlib.redirect_stdout(sys.stderr):  # d3rlpy's messages stay off the JSON line
        row = run(data, config)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
