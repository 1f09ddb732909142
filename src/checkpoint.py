"""What makes a model a checkpoint folder: config.json, model.safetensors, metrics.json and a model card.

`save_pretrained` and `push_to_hub` (from huggingface_hub's mixin) both write the whole folder, because
metrics.json and the card are written by the same `_save_pretrained` hook that writes the weights; and
`from_pretrained` reads it whole, because the `_from_pretrained` hook reads metrics.json beside the weights
(from a local folder or a Hub repo). A model may store its weights in half precision (`stored_as`): loading
copies them into its float32 parameters.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import ModelCard, PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError

METRICS_NAME = "metrics.json"

CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{{ description }}

Part of the LSTM vs Bi-LSTM demo. Load it with `from src.hub import load_model; load_model("{{ name }}")`,
or with `{{ class_name }}.from_pretrained(...)` from the demo's `src` package.

## Measured results

| metric | value |
|---|---|
{% for key, value in summary.items() %}| {{ key }} | {{ value }} |
{% endfor %}
Per-epoch curves and every figure above are in `metrics.json`.

## Reproduce

```bash
{{ command }}
```
{% if teachers %}
The training targets were the mean probabilities of these teacher checkpoints, each trained first by its
own command (the training time below is this model's alone):

| teacher folder | MNIST test accuracy | command |
|---|---|---|
{% for t in teachers %}| `{{ t.folder }}` | {{ '%.2f%%'|format(100 * t.test_accuracy) if t.test_accuracy is not none else '?' }} | `{{ t.command }}` |
{% endfor %}{% endif %}
Trained on {{ device }} in {{ train_minutes }} minutes (seed {{ seed }}).
"""


class HubCheckpoint(PyTorchModelHubMixin, model_card_template=CARD_TEMPLATE):
    """PyTorchModelHubMixin whose folders also carry the training metrics and a card made from them."""

    metrics: dict[str, Any] | None = None
    card_title = "Model"
    card_description = ""
    stored_as = "float32"  # the dtype of model.safetensors; a model whose config sets it stores that

    @property
    def stored_dtype(self) -> torch.dtype:
        """The torch dtype of `stored_as`."""
        return getattr(torch, self.stored_as)

    def round_to_stored(self) -> None:
        """Round the float32 weights to what model.safetensors will hold, so that scores measured now are
        the saved folder's."""
        with torch.no_grad():
            for tensor in self.state_dict().values():
                tensor.copy_(tensor.to(self.stored_dtype))

    def _save_pretrained(self, save_directory: Path) -> None:
        # The mixin's hook writes the module it is given: a copy in the stored dtype, the model itself staying float32.
        stored = self if self.stored_as == "float32" else copy.deepcopy(self).to(self.stored_dtype)
        PyTorchModelHubMixin._save_pretrained(stored, save_directory)
        if self.metrics is not None:
            (save_directory / METRICS_NAME).write_text(json.dumps(self.metrics, indent=2) + "\n")

    @classmethod
    def _from_pretrained(cls, *, model_id: str, revision: str | None, cache_dir: str | Path | None,
                         force_download: bool, local_files_only: bool, token: str | bool | None, **kwargs: Any):
        model = super()._from_pretrained(model_id=model_id, revision=revision, cache_dir=cache_dir,
                                         force_download=force_download, local_files_only=local_files_only,
                                         token=token, **kwargs)
        if os.path.isdir(model_id):
            path = Path(model_id) / METRICS_NAME
            model.metrics = read_metrics(model_id) if path.is_file() else None
            return model
        try:  # the same revision, cache and token as the weights
            path = hf_hub_download(model_id, METRICS_NAME, revision=revision, cache_dir=cache_dir,
                                   force_download=force_download, local_files_only=local_files_only, token=token)
            model.metrics = read_metrics(Path(path).parent)
        except EntryNotFoundError:  # a checkpoint without metrics (remote or not cached) still loads
            model.metrics = None
        return model

    def generate_model_card(self, *args: Any, **kwargs: Any) -> ModelCard:
        metrics = self.metrics or {}
        fields = {
            "title": self.card_title,
            "description": self.card_description,
            "name": metrics.get("name", ""),
            "class_name": type(self).__name__,
            "summary": metrics.get("summary", {}),
            "command": metrics.get("command", ""),
            "device": metrics.get("device", "?"),
            "train_minutes": round(metrics.get("train_seconds", 0) / 60, 1),
            "seed": metrics.get("seed", "?"),
            "teachers": metrics.get("teachers", []),
        }
        return super().generate_model_card(*args, **{**fields, **kwargs})


def read_metrics(folder: str | Path) -> dict[str, Any]:
    """metrics.json of a checkpoint folder."""
    return json.loads((Path(folder) / METRICS_NAME).read_text())
