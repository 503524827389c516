"""Everything a run needs to continue bit for bit, as named tensors for a checkpoint.

    model.<name>          the weights being trained
    average.<name>        their moving average, when the run keeps one (`--ema`): the
                          weights that were evaluated, so the ones a LanguageModel loads
    optim.<i>.<key>       Adam's per-parameter state (step, exp_avg, exp_avg_sq)
    hidden.<k>            the hidden state carried into the next window
    rng.torch             the CPU random generator (dropout draws from it); in a
    rng.torch.<r>         distributed run, rank r's (rank 0's is rng.torch)

The small scalars (step, epoch, stream position, elapsed time, best loss) travel in the
checkpoint's JSON; see `charrnn.training.loop`.
"""

from __future__ import annotations

import torch

from charrnn.errors import CheckpointError
from charrnn.model.checkpoint import AVERAGE, MODEL, model_tensors, weights_of
from charrnn.model.network import CharRNN, State

OPTIM, HIDDEN, RNG = "optim.", "hidden.", "rng.torch"


def training_tensors(model: CharRNN, optimizer: torch.optim.Optimizer,
                     hidden: State, average: CharRNN | None = None,
                     rng_states: list[torch.Tensor] | None = None
                     ) -> dict[str, torch.Tensor]:
    tensors = model_tensors(model)
    if average is not None:
        tensors.update(model_tensors(average, AVERAGE))
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{OPTIM}{index}.{key}"] = value
    for k, part in enumerate(hidden):
        tensors[f"{HIDDEN}{k}"] = part
    rng_states = rng_states or [torch.get_rng_state()]
    tensors[RNG] = rng_states[0]
    for rank, rng in enumerate(rng_states[1:], 1):
        tensors[f"{RNG}.{rank}"] = rng
    return tensors


def has_training_state(tensors: dict[str, torch.Tensor]) -> bool:
    return RNG in tensors


def restore(tensors: dict[str, torch.Tensor], model: CharRNN,
            optimizer: torch.optim.Optimizer, average: CharRNN | None = None,
            rank: int = 0) -> State:
    """Load weights (and their average), optimiser state and (rank's) random generator;
    return the carried state of every stream."""
    if not has_training_state(tensors):
        raise CheckpointError("the checkpoint holds no training state to resume from")
    try:
        model.load_state_dict(weights_of(tensors, MODEL), strict=True)
        if average is not None:
            saved = weights_of(tensors, AVERAGE)
            average.load_state_dict(saved or weights_of(tensors, MODEL), strict=True)
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in tensors.items():
            if name.startswith(OPTIM):
                index, key = name[len(OPTIM):].split(".", 1)
                state.setdefault(int(index), {})[key] = value.clone()
        optimizer.load_state_dict({"state": state,
                                   "param_groups": optimizer.state_dict()["param_groups"]})
        hidden = tuple(tensors[f"{HIDDEN}{k}"].clone()
                       for k in range(sum(n.startswith(HIDDEN) for n in tensors)))
        torch.set_rng_state(tensors[RNG if rank == 0 else f"{RNG}.{rank}"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"the checkpoint's training state does not fit this run: "
                              f"{str(exc).splitlines()[0]}") from None
    return hidden
