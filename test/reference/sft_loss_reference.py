#!/usr/bin/env python3
"""Reference values for tfjs-grpo's sftLoss: torch.nn.functional.cross_entropy with label_smoothing
(and ignore_index for the mask), values and gradients with respect to the logits.

Writes test/fixtures/sft_loss_reference.json, read by test/math/sft_loss.test.ts (the tests do not
need Python). Regenerate with:  /usr/bin/python3 test/reference/sft_loss_reference.py
(Debian's python3-torch 1.13.)

Inputs are drawn once and rounded to float32; the references are evaluated in float64.
'token-mean' is torch's reduction='mean' with ignore_index=-100 on the masked labels;
'seq-mean-token-mean' and 'seq-mean-token-sum' are reduction='none' then per-row mean/sum over the
kept tokens, mean over the rows that have any.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261201)
B, T, V = 3, 5, 7
logits = (3.0 * torch.randn(B, T, V)).to(torch.float32).to(torch.float64)
labels = torch.randint(0, V, (B, T))
mask = torch.tensor([[1, 1, 1, 1, 1], [0, 1, 1, 0, 0], [1, 1, 1, 1, 0]])

cases = []
for eps in [0.0, 0.1, 0.35, 1.0]:
    for agg in ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum']:
        z = logits.clone().requires_grad_(True)
        if agg == 'token-mean':
            target = labels.clone()
            target[mask == 0] = -100
            loss = F.cross_entropy(z.reshape(B * T, V), target.reshape(B * T), ignore_index=-100, label_smoothing=eps)
        else:
            per = F.cross_entropy(z.reshape(B * T, V), labels.reshape(B * T), reduction='none', label_smoothing=eps).reshape(B, T)
            m = mask.to(torch.float64)
            row = (per * m).sum(1)
            if agg == 'seq-mean-token-mean':
                row = row / m.sum(1)
            loss = row.mean()  # every row has a kept token
        loss.backward()
        cases.append({'labelSmoothing': eps, 'aggregation': agg, 'loss': loss.item(), 'grad': z.grad.tolist()})

out = {
    'generator': 'test/reference/sft_loss_reference.py (torch %s)' % torch.__version__,
    'logits': logits.tolist(), 'labels': labels.tolist(), 'mask': mask.tolist(), 'cases': cases,
}
path = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'sft_loss_reference.json')
with open(path, 'w') as f:
    json.dump(out, f)
print('wrote', path, len(cases), 'cases')
