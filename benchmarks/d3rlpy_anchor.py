"""d3rlpy's DiscreteCQL as the anchor of ``benchmarks/offline_cartpole.py``: a recorded dataset
as d3rlpy's flat MDPDataset arrays, agentos's CQL hyperparameters as the worker reads them, and
one run of ``d3rlpy_cql_worker.py`` in the separate d3rlpy venv (``--d3rlpy-python``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

WORKER = Path(__file__).with_name("d3rlpy_cql_worker.py")


def mdp_arrays(folder: Path, name: str) -> dict:
    """The dataset as d3rlpy's flat MDPDataset arrays. An episode that terminated gives its T
    steps, terminal at the last; any other (truncated, or cut where the data stop) gives its
    T + 1 observations with a dummy last action and reward and a timeout there, so d3rlpy's
    transitions are the dataset's, bootstrapping from the final observation as agentos does."""
    import numpy as np

    from agentos.datasets.storage import find_dataset, read_episodes

    episodes, _, _ = read_episodes(find_dataset(folder, name), name)
    parts: dict[str, list] = {k: [] for k in ("observations", "actions", "rewards")}
    parts.update(terminals=[], timeouts=[])
    for ep in episodes:
        steps = len(ep.rewards)
        end = np.zeros(steps, np.float32)
        if ep.terminations[-1]:
            parts["observations"].append(ep.observations[:-1])
            parts["actions"].append(ep.actions)
            parts["rewards"].append(ep.rewards)
            parts["terminals"].append(np.concatenate([end[:-1], [1.0]]))
            parts["timeouts"].append(end)
        else:
            parts["observations"].append(ep.observations)
            parts["actions"].append(np.concatenate([ep.actions, [0]]))
            parts["rewards"].append(np.concatenate([ep.rewards, [0.0]]))
            parts["terminals"].append(np.zeros(steps + 1, np.float32))
            parts["timeouts"].append(np.concatenate([end, [1.0]]))
    return {key: np.concatenate(values) for key, values in parts.items()}


def cql_config(agent) -> dict:
    """The hyperparameters of the agent's CQL learner and Q-network, as the worker reads them."""
    learner = agent.graph.node("learner").params
    network = agent.graph.node("network").params
    if learner.learning_rate_decay_updates or learner.target_update_tau != 1.0:
        raise SystemExit("the d3rlpy rows need a constant learning rate and hard target copies")
    return {
        "learning_rate": learner.learning_rate,
        "batch_size": learner.batch_size,
        "gamma": learner.gamma,
        "target_update_interval": learner.target_update_period,
        "alpha": learner.alpha,
        "huber_delta": learner.huber_delta,  # recorded only: d3rlpy's TD loss is Huber(1)
        "adam_eps": learner.adam_eps,
        "clip_grad_norm": learner.max_grad_norm,
        "hidden_units": list(network.hidden_sizes),
        "layer_norm": network.layer_norm,
        "init": network.init,  # recorded only: d3rlpy's layers keep PyTorch's default
        "layer_norm_position": network.layer_norm_position,  # recorded only: d3rlpy's is after
    }


def run_d3rlpy(
    args: argparse.Namespace, folder: Path, data: dict, config: dict, seed: int, gym_id: str
) -> dict:
    """d3rlpy's DiscreteCQL on the dataset ``data`` of agent ``folder``, in
    ``--d3rlpy-python``; the worker's row. Its files go beside the agent folder."""
    import numpy as np

    tmp = folder.parent
    arrays = tmp / f"{data['name']}.npz"
    if not arrays.exists():
        np.savez(arrays, **mdp_arrays(folder, data["name"]))
    run = {
        **config,
        "updates": args.updates,
        "eval_episodes": args.eval_episodes,
        "env": gym_id,
        "seed": seed,
        "torch_threads": args.d3rlpy_threads,
    }
    config_file = tmp / f"d3rlpy-{data['name']}-{seed}.json"
    config_file.write_text(json.dumps(run))
    command = [args.d3rlpy_python, str(WORKER), "--data", str(arrays), "--config", str(config_file)]
    t0 = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    process = time.perf_counter() - t0
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-800:]}"}
    return {**json.loads(lines[-1]), "process_wall_s": round(process, 1), "config": run}
