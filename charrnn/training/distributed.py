"""Training in several processes (`torchrun --nproc_per_node=N -m charrnn train ...`).

Every process builds the same batcher over W x B contiguous streams (W processes, B =
`--batch-size` each) and trains its own block of B rows, so each stream's hidden state
stays with one process and truncated BPTT is exactly as in one process with W x B
streams. PyTorch's DistributedDataParallel averages the gradients (gloo on CPU, NCCL on
GPUs), so a step equals one step on the whole W x B batch.

Decisions that must agree (stop now? how far through the time budget?) are taken from
the maximum over processes, one tiny all-reduce per step. Only rank 0 writes files and
shows progress; validation is split between processes and averaged per character.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from charrnn.training.device import resolve_device, resolve_precision


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: rank `rank` of `world` (1: not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: str = "cpu"  # where collectives' tensors live (NCCL needs them on the GPU)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def rows(self, batch: int) -> slice:
        """This process's streams among the world * batch of the job."""
        return slice(self.rank * batch, (self.rank + 1) * batch)

    def agree_max(self, values: list[float]) -> list[float]:
        """The element-wise maximum over processes (identity when alone)."""
        return self._reduce(values, dist.ReduceOp.MAX)

    def sum(self, values: list[float]) -> list[float]:
        return self._reduce(values, dist.ReduceOp.SUM)

    def _reduce(self, values: list[float], op) -> list[float]:
        if not self.active:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op=op)
        return t.tolist()

    def gather_rows(self, part: torch.Tensor) -> torch.Tensor:
        """Every process's (layers, batch, hidden) block, stacked along the batch."""
        if not self.active:
            return part
        parts = [torch.empty_like(part) for _ in range(self.world)]
        dist.all_gather(parts, part.contiguous())
        return torch.cat(parts, dim=1)

    def gather_objects(self, obj) -> list:
        if not self.active:
            return [obj]
        out: list = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def from_environment(device_type: str = "cpu") -> Ranks:
    """The ranks torchrun describes in the environment, joining its process group (gloo
    on CPU, NCCL on CUDA); a plain run is Ranks() and touches nothing."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = "cpu"
    if device_type == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Ranks(rank, world, local, device)


def shutdown(ranks: Ranks) -> None:
    """Leave the job. On gloo, first wait (a minute at most) until every process is
    leaving: one that tore its connections down while another still used them made
    that one abort at exit now and then, failing a finished run."""
    if not (ranks.active and dist.is_initialized()):
        return
    if dist.get_backend() == "gloo":
        # a process that has failed never arrives: leave anyway, its error is what matters
        with contextlib.suppress(RuntimeError):
            dist.monitored_barrier(timeout=timedelta(seconds=60))
    dist.destroy_process_group()


def join_job(device: str = "auto", precision: str = "auto") -> Ranks:
    """This process's ranks under torchrun (Ranks() otherwise), on the chosen device; an
    absent device or precision is refused before any work."""
    chosen = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    resolve_precision(precision, chosen)
    return from_environment(chosen.type)
