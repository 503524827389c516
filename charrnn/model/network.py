"""One CharRNN module for lstm / gru / rnn, and helpers for its recurrent state.

The state is always a tuple of tensors with the batch on dimension 1: (h, c) for the
LSTM, (h,) for GRU and RNN, each (num_layers, batch, hidden), so code that carries,
detaches or reorders it never asks which cell it is holding. A model of labelled files
with `label_input` "vector" adds one more, (1, batch, 1): the label each row is writing
in (1 + its index; 0 for none), set by reading a label's symbol and kept until the next
one. Its learned vector is added to every character's embedding, so the label speaks at
every step, not only at the start of a text (`label_input` "prefix": only the symbol).
With `label_input` "adapter" each label also has an output layer of its own, a
correction added to the shared head's logits (`LabelHeads`): a label changes what the
network writes from the same hidden state, not only the state, so a model of labelled
files starting from a base that already knows the language has its labels' styles to
learn in weights of their own.
"""

from __future__ import annotations

import torch
from torch import nn

from charrnn.config import ModelConfig
from charrnn.data.text_format import label_heads_of, label_in_force, label_vectors
from charrnn.model.restarts import recur_with_restarts

State = tuple[torch.Tensor, ...]

_CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class FastDropout(nn.Module):
    """Dropout whose mask costs a quarter of `nn.Dropout`'s on the CPU.

    `nn.Dropout` draws one Bernoulli sample per element, a visible share of a CPU
    training step (`docs/results.md`). This mask reads 16 random bits per
    element out of 64-bit draws instead: the keep probability is rounded to a multiple
    of 1/65536 and kept values are scaled by exactly that rate, so the expected output
    still equals the input. Other devices keep `F.dropout`, which is fused there.
    """

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.threshold = round((1.0 - p) * 65536) - 32768  # int16 values below: kept
        kept = (self.threshold + 32768) / 65536
        self.scale = 1.0 / kept if kept > 0 else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.device.type != "cpu":
            return nn.functional.dropout(x, self.p, True)
        draws = torch.randint(-(2**63), 2**63 - 1, (-(-x.numel() // 4),), dtype=torch.int64)
        bits = draws.view(torch.int16)[: x.numel()].view(x.shape)
        return x * (bits < self.threshold) * self.scale


class LabelHeads(nn.Module):
    """Each label's correction to the output layer: logits += W[k] h + b[k] at the steps
    written in label k (row 0, no label yet, stays zero). Zero at the start, so a model
    starting from a parent writes as the parent did until its labels are learned."""

    def __init__(self, labels: int, vocab: int, hidden: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(labels + 1, vocab, hidden))
        self.bias = nn.Parameter(torch.zeros(labels + 1, vocab))

    def forward(self, out: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """out (batch, time, hidden), codes (batch, time) -> logit corrections (batch,
        time, vocab), computed label by label for the steps each one is in force."""
        delta = out.new_zeros(*codes.shape, self.bias.shape[1])
        for k in torch.unique(codes).tolist():
            if k > 0:
                at = codes == k
                delta[at] = out[at] @ self.weight[k].T + self.bias[k]
        return delta


class _Unlabelled:
    """How a model of no labels reads and writes: as it is."""

    def read(self, model: CharRNN, ids: torch.Tensor, x: torch.Tensor, state: State):
        """-> the inputs, the recurrent state, the label in force at each step (None),
        and the label state to carry on (none)."""
        return x, state, None, ()

    def write(self, model: CharRNN, logits: torch.Tensor, out: torch.Tensor,
              codes: torch.Tensor | None) -> torch.Tensor:
        return logits


class _Labelled(_Unlabelled):
    """Labels read: the label in force, from the symbols read and the state's last part,
    with its vector added to every character's embedding."""

    def read(self, model, ids, x, state):
        codes = label_in_force(ids, state[-1], model.first_label)
        carried = (codes[:, -1:].T[:, :, None].to(state[0].dtype),)
        return x + model.label_embed(codes), state[:-1], codes, carried


class _Adapted(_Labelled):
    """Labels read, and written through each label's own output correction."""

    def write(self, model, logits, out, codes):
        return logits + model.label_heads(out, codes)


_UNLABELLED, _LABELLED, _ADAPTED = _Unlabelled(), _Labelled(), _Adapted()


class CharRNN(nn.Module):
    """Embedding -> fused multi-layer RNN (torch's own kernels) -> dropout -> linear head
    (optionally sharing its weight with the embedding)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        if config.vocab_size < 1:
            raise ValueError("ModelConfig.vocab_size must be set before building a model")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.embed_size)
        cell_kwargs = {"nonlinearity": "tanh"} if config.model == "rnn" else {}
        self.rnn = _CELLS[config.model](
            config.embed_size,
            config.hidden_size,
            config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
            **cell_kwargs,
        )
        self.drop = FastDropout(config.dropout)
        self.weight_drop = FastDropout(config.weight_drop)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        if config.tie_weights:  # one matrix both reads and writes characters
            self.head.weight = self.embed.weight
        self.labels = label_vectors(config.label_input, config.label_count)
        # the state's parts, in order (an exported step takes and gives them by these names)
        self.state_names: tuple[str, ...] = ("h", "c") if config.model == "lstm" else ("h",)
        self.label_heads: LabelHeads | None = None
        self.labelling: _Unlabelled = _UNLABELLED  # how labels are read and written
        if self.labels:  # row 0: no label yet
            self.state_names += ("label",)
            self.label_embed = nn.Embedding(self.labels + 1, config.embed_size, padding_idx=0)
            self.first_label = config.vocab_size - self.labels
            adapted = label_heads_of(config.label_input, config.label_count)
            self.labelling = _ADAPTED if adapted else _LABELLED
            self.label_heads = (LabelHeads(adapted, config.vocab_size, config.hidden_size)
                                if adapted else None)

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def initial_state(self, batch_size: int) -> State:
        """Zeros on the model's device: the state at the start of every text stream."""
        layers = (self.config.num_layers, batch_size, self.config.hidden_size)
        shapes = {"h": layers, "c": layers, "label": (1, batch_size, 1)}
        return tuple(self.head.weight.new_zeros(shapes[name]) for name in self.state_names)

    def forward(self, ids: torch.Tensor, state: State,
                restarts: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        """ids (batch, time) -> logits (batch, time, vocab) and the state after the last step.
        `restarts` (batch, time; bool), where given, marks the steps before which the state
        returns to zero: where a packed row's next document begins."""
        x, state, codes, labels = self.labelling.read(self, ids, self.embed(ids), state)
        if restarts is not None:
            out, hidden_out = self._recur_restarting(x, state, restarts)
        else:
            hidden_in = state if self.config.model == "lstm" else state[0]
            out, hidden_out = self._recur(x, hidden_in)
        out = self.drop(out)
        logits = self.labelling.write(self, self.head(out), out, codes)
        new_state = hidden_out if isinstance(hidden_out, tuple) else (hidden_out,)
        return logits, (*new_state, *labels)

    def _recur(self, x: torch.Tensor, hidden: torch.Tensor | State):
        """The fused RNN; while training with weight_drop, through recurrent matrices with
        a fresh mask for this batch (DropConnect, as in AWD-LSTM), so no single
        hidden-to-hidden path can be relied on and the kernels stay torch's own."""
        if not self.training or self.config.weight_drop == 0:
            return self.rnn(x, hidden)
        dropped = {f"weight_hh_l{k}": self.weight_drop(getattr(self.rnn, f"weight_hh_l{k}"))
                   for k in range(self.config.num_layers)}
        return torch.func.functional_call(self.rnn, dropped, (x, hidden))

    def _recur_restarting(self, x: torch.Tensor, state: State, restarts: torch.Tensor):
        """The same layers stepped by `recur_with_restarts`, weight drop and the dropout
        between layers included."""
        dropping = self.training and self.config.weight_drop > 0
        weights = []
        for k in range(self.config.num_layers):
            w = {name: getattr(self.rnn, f"{name}_l{k}")
                 for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            if dropping:
                w["weight_hh"] = self.weight_drop(w["weight_hh"])
            weights.append(w)
        between = FastDropout(self.rnn.dropout).train(self.training)
        return recur_with_restarts(self.config.model, x, weights, state, restarts, between)


def detach_state(state: State) -> State:
    """Cut the graph between truncated-BPTT windows while keeping the values."""
    return tuple(s.detach() for s in state)


def select_state(state: State, index: torch.Tensor) -> State:
    """Rows of the state picked (and repeated) by batch index, e.g. to reorder beams."""
    return tuple(s.index_select(1, index) for s in state)
