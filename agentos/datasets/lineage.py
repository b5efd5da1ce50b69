"""Dataset lineage in MLflow: which data trained a run, and which runs a recording fed.

A run that learns from a dataset logs it as an MLflow dataset input (``mlflow.data``: name,
digest (the first 32 hex digits of the sha256: MLflow keeps at most 36 characters), the folder
as a local source; context ``training``) and carries the tags
``agentos.dataset``, ``agentos.dataset_digest`` and, when agentos recorded the data,
``agentos.dataset_recorded_by`` (the ``record`` run). That record run gets the learning run's id
added to its ``agentos.dataset_used_by`` tag, so ``agentos runs show ID`` answers "which data
trained this?" in one direction and "which runs used this recording?" in the other.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

TAG_DATASET = "agentos.dataset"
TAG_DIGEST = "agentos.dataset_digest"
TAG_RECORDED_BY = "agentos.dataset_recorded_by"
TAG_USED_BY = "agentos.dataset_used_by"
TAG_RECORDED = "agentos.dataset_recorded"
"""On a ``record`` run: ``NAME sha256:...`` of the dataset it wrote."""


def log_dataset_input(tracker: Any, lineage: dict[str, Any]) -> None:
    """Log ``lineage`` (``OfflineDataset.lineage()``) as the run's MLflow dataset input, tag
    the run with it, and link the run that recorded the data back to this one."""
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.data.sources import LocalArtifactDatasetSource  # type: ignore[attr-defined]
    from mlflow.entities import DatasetInput, InputTag

    dataset = MetaDataset(  # type: ignore[abstract]
        LocalArtifactDatasetSource(lineage["path"]),
        name=lineage["name"],
        digest=mlflow_digest(lineage["digest"]),
    )
    tracker.client.log_inputs(
        tracker.run_id,
        datasets=[
            DatasetInput(
                dataset=dataset._to_mlflow_entity(),
                tags=[InputTag(key="mlflow.data.context", value="training")],
            )
        ],
    )
    recorded_by = str(lineage.get("recorded", {}).get("record_run") or "")
    tags = {TAG_DATASET: lineage["name"], TAG_DIGEST: lineage["digest"]}
    if recorded_by:
        tags[TAG_RECORDED_BY] = recorded_by
    tracker.set_tags(tags)
    if recorded_by:
        _link_back(tracker, recorded_by)


def mlflow_digest(digest: str) -> str:
    """The dataset digest as MLflow stores it (at most 36 characters): the first 32 hex
    digits of the sha256 (the full digest is the run's ``agentos.dataset_digest`` tag)."""
    return digest.split(":", 1)[-1][:32]


def _link_back(tracker: Any, record_run: str) -> None:
    """Add this run to the ``agentos.dataset_used_by`` tag of the run that recorded the data."""
    try:
        run = tracker.client.get_run(record_run)
    except Exception as e:  # the record run lives in another store, or was deleted
        log.info("dataset recorded by run %s, which this store lacks (%s)", record_run, e)
        return
    used = [r for r in run.data.tags.get(TAG_USED_BY, "").split(",") if r]
    if tracker.run_id not in used:
        used.append(tracker.run_id)
        tracker.client.set_tag(record_run, TAG_USED_BY, ",".join(used)[-8000:])


def dataset_inputs(client: Any, run_id: str) -> list[dict[str, str]]:
    """The MLflow dataset inputs of a run, as ``{name, digest, source}`` dicts."""
    run = client.get_run(run_id)
    inputs = run.inputs.dataset_inputs if run.inputs else []
    return [
        {"name": i.dataset.name, "digest": i.dataset.digest, "source": i.dataset.source}
        for i in inputs
    ]
