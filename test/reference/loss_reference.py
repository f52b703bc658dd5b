#!/usr/bin/env python3
"""Reference values for tfjs-grpo's loss functions, from independent PyTorch re-implementations of
TRL's GRPO loss (GRPOTrainer._compute_loss) and verl's core_algos (compute_policy_loss_vanilla,
compute_policy_loss_gspo, kl_penalty, agg_loss), written from their documented semantics.

Writes test/fixtures/loss_reference.json, read by test/math/loss_reference.test.ts (the tests do not
need Python). Regenerate with:  /usr/bin/python3 test/reference/loss_reference.py
(Debian's python3-torch 1.13; any torch >= 1.13 gives the same numbers.)

Inputs are drawn once, rounded to float32 (what the TypeScript side receives), then every reference is
evaluated in float64 so that the fixture holds the exact value for those float32 inputs. Each case
records the tfjs-grpo options that should reproduce it; cases are chosen where the semantics agree
(every row has at least one completion token, no clamp of verl's is active unless the case is about it).
"""
import json
import math
import os

import torch

torch.manual_seed(20251123)
B, T = 4, 6


def f32(x):
    """Round to float32, keep as float64 for the reference arithmetic."""
    return x.to(torch.float32).to(torch.float64)


# ---------------------------------------------------------------- inputs
old = f32(-0.3 - 2.0 * torch.rand(B, T, dtype=torch.float64))
log_ratio = f32(0.35 * torch.randn(B, T, dtype=torch.float64))
log_ratio[0, 1] = 0.6     # r = 1.82: above 1 + 0.28 and above a dual bound of 1.5
log_ratio[1, 2] = -0.5    # r = 0.61: below 1 - 0.2
logp = f32(old + log_ratio)
ref = f32(logp - 0.25 * torch.randn(B, T, dtype=torch.float64).abs() - 0.05)
adv_seq = f32(torch.tensor([1.1, -0.7, 0.4, -1.3], dtype=torch.float64))
adv_tok = f32(adv_seq[:, None] + 0.3 * torch.randn(B, T, dtype=torch.float64))
mask = torch.tensor([
    [1, 1, 1, 1, 1, 1],
    [1, 1, 1, 1, 0, 0],
    [1, 1, 0, 1, 1, 0],   # a hole
    [1, 0, 0, 0, 0, 0],
], dtype=torch.float64)
MAX_COMPLETION_LENGTH = 8


# ---------------------------------------------------------------- TRL (GRPOTrainer._compute_loss)
def trl_loss(lp, old_lp, ref_lp, adv, m, *, beta=0.0, eps_low=0.2, eps_high=None, delta=None,
             level='token', loss_type='grpo', max_len=None, num_items=None):
    """TRL's per-token GRPO loss and its reduction. `old_lp=None` means num_iterations == 1."""
    eps_high = eps_low if eps_high is None else eps_high
    if old_lp is None:
        old_lp = lp.detach()
    lr = lp - old_lp
    if level == 'sequence':
        # GSPO: one log-weight per row, the masked mean of the token log-ratios (gradient through all).
        log_w = ((lr * m).sum(-1) / m.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    else:
        log_w = lr
    c1 = torch.exp(log_w)
    c2 = torch.clamp(c1, 1 - eps_low, 1 + eps_high)
    if delta is not None:
        c1 = torch.clamp(c1, max=delta)
    a = adv.unsqueeze(1)
    per_tok = -torch.min(c1 * a, c2 * a)
    if beta != 0.0:
        d = ref_lp - lp
        per_tok = per_tok + beta * (torch.exp(d) - d - 1)
    if loss_type == 'grpo':
        return ((per_tok * m).sum(-1) / m.sum(-1).clamp(min=1.0)).mean()
    if loss_type == 'bnpo':
        return (per_tok * m).sum() / m.sum().clamp(min=1.0)
    if loss_type == 'dr_grpo':
        return (per_tok * m).sum() / (per_tok.size(0) * max_len)
    if loss_type == 'dapo':
        return (per_tok * m).sum() / num_items
    raise ValueError(loss_type)


# ---------------------------------------------------------------- verl (core_algos)
def verl_kl_penalty(lp, ref_lp, kind):
    if kind in ('kl', 'k1'):
        return lp - ref_lp
    if kind == 'abs':
        return (lp - ref_lp).abs()
    if kind in ('mse', 'k2'):
        return 0.5 * (lp - ref_lp) ** 2
    if kind in ('low_var_kl', 'k3'):
        d = torch.clamp(ref_lp - lp, min=-20, max=20)
        return torch.clamp(torch.exp(d) - d - 1, min=-10, max=10)
    raise ValueError(kind)


def verl_agg_loss(mat, m, mode):
    if mode == 'token-mean':
        return (mat * m).sum() / m.sum()
    if mode == 'seq-mean-token-sum':
        return (mat * m).sum(-1).mean()
    if mode == 'seq-mean-token-mean':
        return ((mat * m).sum(-1) / m.sum(-1)).mean()
    if mode == 'seq-mean-token-sum-norm':
        return (mat * m).sum(-1).sum() / m.shape[-1]
    raise ValueError(mode)


def verl_vanilla(old_lp, lp, adv, m, mode, clip_low=0.2, clip_high=0.2, clip_c=3.0):
    lr = torch.clamp(lp - old_lp, min=-20.0, max=20.0)
    r = torch.exp(lr)
    l1 = -adv * r
    l2 = -adv * torch.clamp(r, 1 - clip_low, 1 + clip_high)
    clipped = torch.maximum(l1, l2)
    l3 = -adv * clip_c
    dual = torch.min(l3, clipped)
    per_tok = torch.where(adv < 0, dual, clipped)
    return verl_agg_loss(per_tok, m, mode)


def verl_gspo(old_lp, lp, adv, m, clip_low, clip_high):
    lr = lp - old_lp
    seq = (lr * m).sum(-1) / m.sum(-1).clamp(min=1)
    log_s = torch.clamp(lp - lp.detach() + seq.detach().unsqueeze(-1), max=10.0)
    s = torch.exp(log_s)
    l1 = -adv * s
    l2 = -adv * torch.clamp(s, 1 - clip_low, 1 + clip_high)
    return verl_agg_loss(torch.maximum(l1, l2), m, 'seq-mean-token-mean')


# ---------------------------------------------------------------- cases
def value_and_grad(fn):
    lp = logp.clone().requires_grad_(True)
    loss = fn(lp)
    (g,) = torch.autograd.grad(loss, lp)
    return loss.item(), g.tolist()


def rows(x):
    return x.tolist()


cases = []


def add(name, source, options, fn, *, old_given=True, ref_given=False, adv='seq'):
    loss, grad = value_and_grad(fn)
    assert math.isfinite(loss)
    inputs = {'logProbs': rows(logp), 'advantages': rows(adv_seq if adv == 'seq' else adv_tok), 'mask': rows(mask)}
    if old_given:
        inputs['oldLogProbs'] = rows(old)
    if ref_given:
        inputs['refLogProbs'] = rows(ref)
    cases.append({'name': name, 'source': source, 'options': options, 'inputs': inputs, 'loss': loss, 'grad': grad})


tokens = int(mask.sum().item())
add('TRL grpo, beta 0.04', "trl loss_type='grpo', beta=0.04, epsilon=0.2",
    {'aggregation': 'seq-mean-token-mean', 'beta': 0.04},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, beta=0.04, loss_type='grpo'), ref_given=True)
add('TRL bnpo', "trl loss_type='bnpo', beta=0", {'aggregation': 'token-mean'},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, loss_type='bnpo'))
add('TRL dr_grpo', f"trl loss_type='dr_grpo', max_completion_length={MAX_COMPLETION_LENGTH}",
    {'aggregation': 'seq-mean-token-sum-norm', 'maxLength': MAX_COMPLETION_LENGTH},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, loss_type='dr_grpo', max_len=MAX_COMPLETION_LENGTH))
add('TRL dapo, clip-higher, global token count', "trl loss_type='dapo', epsilon_high=0.28, num_items_in_batch=3*tokens",
    {'aggregation': 'token-mean', 'clipHigh': 0.28, 'normalizer': 3 * tokens},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, eps_high=0.28, loss_type='dapo', num_items=3 * tokens))
add('TRL delta (two-sided clip) = dualClip', "trl loss_type='bnpo', epsilon_high=0.28, delta=1.5",
    {'aggregation': 'token-mean', 'clipHigh': 0.28, 'dualClip': 1.5},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, eps_high=0.28, delta=1.5, loss_type='bnpo'))
add('TRL GSPO (importance_sampling_level=sequence), epsilon 0.1', "trl importance_sampling_level='sequence', loss_type='grpo', epsilon=0.1",
    {'aggregation': 'seq-mean-token-mean', 'ratioLevel': 'sequence', 'clipLow': 0.1},
    lambda lp: trl_loss(lp, old, ref, adv_seq, mask, eps_low=0.1, level='sequence', loss_type='grpo'))
add('TRL num_iterations=1 (old = detached log-probs), beta 0.04', "trl num_iterations=1, loss_type='bnpo', beta=0.04",
    {'aggregation': 'token-mean', 'beta': 0.04},
    lambda lp: trl_loss(lp, None, ref, adv_seq, mask, beta=0.04, loss_type='bnpo'), old_given=False, ref_given=True)
for mode in ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean']:
    add(f'verl vanilla {mode}, clip_ratio_c 3', f"verl compute_policy_loss_vanilla, loss_agg_mode='{mode}', clip_ratio_c=3.0",
        {'aggregation': mode, 'dualClip': 3},
        lambda lp, mode=mode: verl_vanilla(old, lp, adv_tok, mask, mode), adv='tok')
add('verl vanilla seq-mean-token-sum-norm (sum over rows / T)',
    "verl loss_agg_mode='seq-mean-token-sum-norm', clip_ratio_high=0.28, clip_ratio_c=1.5",
    {'aggregation': 'seq-mean-token-sum-norm', 'normalizer': 1, 'clipHigh': 0.28, 'dualClip': 1.5},
    lambda lp: verl_vanilla(old, lp, adv_tok, mask, 'seq-mean-token-sum-norm', clip_high=0.28, clip_c=1.5), adv='tok')
add('verl gspo (GSPO-token), sequence advantages', "verl compute_policy_loss_gspo, clip 0.2 / 0.28",
    {'aggregation': 'seq-mean-token-mean', 'ratioLevel': 'sequence', 'clipHigh': 0.28},
    lambda lp: verl_gspo(old, lp, adv_seq[:, None].expand(B, T), mask, 0.2, 0.28))
add('verl policy loss + kl_loss_coef * agg_loss(low_var_kl)', "verl vanilla token-mean + use_kl_loss, kl_loss_coef=0.1, kl_loss_type='low_var_kl'",
    {'aggregation': 'token-mean', 'dualClip': 3, 'beta': 0.1, 'klEstimator': 'k3'},
    lambda lp: verl_vanilla(old, lp, adv_tok, mask, 'token-mean')
    + 0.1 * verl_agg_loss(verl_kl_penalty(lp, ref, 'low_var_kl'), mask, 'token-mean'), ref_given=True, adv='tok')

# KL estimators, element-wise, including values where verl's low_var_kl clamps are active.
kl_lp = f32(torch.tensor([[-0.2, -1.0, -3.0, -0.5, -30.0, -0.1]], dtype=torch.float64))
kl_ref = f32(torch.tensor([[-0.9, -1.0, -0.4, -2.5, -0.2, -25.0]], dtype=torch.float64))
kl_cases = []
for kind, ours in [('k1', {'estimator': 'k1'}), ('k2', {'estimator': 'k2'}), ('abs', {'estimator': 'abs'}),
                   ('low_var_kl', {'estimator': 'k3', 'logRatioClamp': 20, 'valueClamp': 10})]:
    kl_cases.append({'name': f'verl kl_penalty {kind}', 'options': ours, 'logProbs': rows(kl_lp),
                     'refLogProbs': rows(kl_ref), 'values': rows(verl_kl_penalty(kl_lp, kl_ref, kind))})
# TRL's k3 has no clamps: compare on the unclamped elements only (|ref - lp| < 9).
d = kl_ref - kl_lp
kl_cases.append({'name': 'TRL per_token_kl (k3, no clamp)', 'options': {'estimator': 'k3'}, 'logProbs': rows(kl_lp[:, :4]),
                 'refLogProbs': rows(kl_ref[:, :4]), 'values': rows((torch.exp(d) - d - 1)[:, :4])})

out = {
    'about': 'Generated by test/reference/loss_reference.py (PyTorch re-implementations of TRL and verl losses); '
             'compared by test/math/loss_reference.test.ts. Do not edit by hand.',
    'torch': torch.__version__,
    'cases': cases,
    'klCases': kl_cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'fixtures', 'loss_reference.json')
with open(path, 'w') as fh:
    json.dump(out, fh, indent=1)
    fh.write('\n')
print(f'wrote {len(cases)} loss cases and {len(kl_cases)} KL cases to {os.path.normpath(path)}')
r = torch.exp(log_ratio)
print('dual-clip (delta 1.5) tokens with A<0 and r>1.5:', int(((adv_seq[:, None] < 0) & (r > 1.5) & (mask > 0)).sum()),
      '| high-clipped tokens (A>0, r>1.28):', int(((adv_seq[:, None] > 0) & (r > 1.28) & (mask > 0)).sum()),
      '| low-clipped (A<0, r<0.8):', int(((adv_seq[:, None] < 0) & (r < 0.8) & (mask > 0)).sum()),
      '| seq ratios:', [round(x, 3) for x in torch.exp((log_ratio * mask).sum(-1) / mask.sum(-1)).tolist()])
