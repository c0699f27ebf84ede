"""Run ``toolkit train`` under real FSDP on CPU processes (gloo), for the sharded-save test.

accelerate only turns FSDP on for accelerator process groups (CUDA, XPU, NPU…): with
``ACCELERATE_USE_CPU`` it stays ``MULTI_CPU`` and never shards. PyTorch's FSDP2 itself runs on
CPU with gloo (parameters become DTensor shards, the full state dict is gathered on rank 0), so
this wrapper makes one change: a ``MULTI_CPU`` state with an FSDP plugin becomes ``FSDP``, as
the same state on GPUs would. Everything after that (wrapping, training, ``trainer.save_model``
gathering the shards) is the real code path. Launch with
``accelerate launch --config_file fsdp-cpu.yaml -m tests.helpers.fsdp_cpu RECIPE``.
"""

from __future__ import annotations

import os
import sys


def _patch_accelerate() -> None:
    from accelerate import state as accelerate_state
    from accelerate.utils import DistributedType

    original = accelerate_state.AcceleratorState.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        plugin = kwargs.get("fsdp_plugin") or getattr(self, "fsdp_plugin", None)
        if self.distributed_type == DistributedType.MULTI_CPU and plugin is not None:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = plugin

    accelerate_state.AcceleratorState.__init__ = __init__


def main() -> None:
    os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    _patch_accelerate()
    from toolkit.cli import app

    sys.argv = ["toolkit", "train", *sys.argv[1:]]
    app()


if __name__ == "__main__":
    main()
