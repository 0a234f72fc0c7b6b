"""K networks of one architecture run as one: their weights stacked on a leading member dimension.

An ensemble of K small networks costs K full passes, and at batch 1 on a CPU a pass is mostly per-operation
overhead (a thousand small operations, none of them a hotspot). Stacked, member k's weights act on row k of
the batch, so K members cost one pass of operations that are K rows wide -- about what a batch of K costs.

``stack(members)`` copies the first member and swaps every ``Linear``, ``Embedding``, ``LayerNorm`` and
``Conv2d`` for its stacked form and every other parameter for the members' parameters stacked on dim 0. The
copy runs the members' own ``forward`` code unchanged on a batch whose row k is member k's input (so rows =
members: one observation each). The network's code keeps that working by broadcasting its free parameters
from the left (``view(-1, 1)`` rather than a bare scalar, ``weight[..., i:i + 1, :]`` rather than
``weight[i]``). Buffers are shared: they must be equal in every member (the app lexicon is).

For inference only: the stacked copy holds its own tensors and does not follow later changes to the members.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class StackedLinear(nn.Module):
    def __init__(self, layers: Sequence[nn.Linear]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach().t() for l in layers]))  # (K, in, out)
        self.bias = (nn.Parameter(torch.stack([l.bias.detach() for l in layers])[:, None])  # (K, 1, out)
                     if layers[0].bias is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[0]
        flat = x.reshape(k, -1, x.shape[-1])
        y = torch.baddbmm(self.bias, flat, self.weight) if self.bias is not None else torch.bmm(flat, self.weight)
        return y.reshape(*x.shape[:-1], y.shape[-1])


class StackedEmbedding(nn.Module):
    def __init__(self, layers: Sequence[nn.Embedding]):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]))  # (K, V, d)

    def offsets(self, ids: torch.Tensor, rows_per_member: int = 1) -> torch.Tensor:
        """``ids`` (rows member-major) as indices into the flattened (K * V, d) table."""
        k, v = self.weight.shape[:2]
        member = torch.arange(k, device=ids.device).repeat_interleave(rows_per_member)
        return ids + (member * v).view(-1, *([1] * (ids.dim() - 1)))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() == 0 or ids.shape[0] != self.weight.shape[0]:
            raise ValueError(f"a stacked embedding needs one row per member, got ids of shape {tuple(ids.shape)}")
        return F.embedding(self.offsets(ids), self.weight.flatten(0, 1))

    def bag(self, ids: torch.Tensor, per_sample_weights: torch.Tensor, rows_per_member: int) -> torch.Tensor:
        """``F.embedding_bag(ids, weight, mode="sum")`` with each member's rows reading its own table."""
        return F.embedding_bag(self.offsets(ids, rows_per_member), self.weight.flatten(0, 1), mode="sum",
                               per_sample_weights=per_sample_weights)


class StackedLayerNorm(nn.Module):
    def __init__(self, layers: Sequence[nn.LayerNorm]):
        super().__init__()
        self.shape, self.eps = layers[0].normalized_shape, layers[0].eps
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]))
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in layers]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        return torch.addcmul(self.bias.view(shape), F.layer_norm(x, self.shape, eps=self.eps),
                             self.weight.view(shape))


class StackedConv2d(nn.Module):
    """Member k's filters on row k's image. One convolution per member: a grouped convolution measured
    several times slower than the members' convolutions one after the other on this small image."""

    def __init__(self, layers: Sequence[nn.Conv2d]):
        super().__init__()
        first = layers[0]
        self.stride, self.padding = first.stride, first.padding
        self.weight = nn.Parameter(torch.stack([l.weight.detach() for l in layers]))  # (K, out, in, kh, kw)
        self.bias = nn.Parameter(torch.stack([l.bias.detach() for l in layers])) if first.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != self.weight.shape[0]:
            raise ValueError(f"a stacked convolution needs one image per member, got {x.shape[0]}")
        return torch.cat([F.conv2d(x[k:k + 1], self.weight[k], None if self.bias is None else self.bias[k],
                                   self.stride, self.padding) for k in range(x.shape[0])])


_STACKED = {nn.Linear: StackedLinear, nn.Embedding: StackedEmbedding, nn.LayerNorm: StackedLayerNorm,
            nn.Conv2d: StackedConv2d}


def stack(members: Sequence[nn.Module]) -> nn.Module:
    """One module that runs every member at once: row k of its batch goes through member k (see above)."""
    if not members:
        raise ValueError("nothing to stack")
    out = copy.deepcopy(members[0]).eval()
    for name, module in list(out.named_modules()):
        parts = [m.get_submodule(name) for m in members] if name else list(members)
        kind = _STACKED.get(type(module))
        if kind is not None:
            parent, _, leaf = name.rpartition(".")
            setattr(out.get_submodule(parent) if parent else out, leaf, kind(parts))
            continue
        for pname, _ in list(module.named_parameters(recurse=False)):
            setattr(module, pname, nn.Parameter(torch.stack([getattr(p, pname).detach() for p in parts])))
        for bname, buf in list(module.named_buffers(recurse=False)):
            if any(not torch.equal(buf, getattr(p, bname)) for p in parts[1:]):
                raise ValueError(f"buffer {name}.{bname} differs between members; it cannot be shared")
    return out.requires_grad_(False)
