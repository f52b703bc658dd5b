#!/usr/bin/env python3
"""Reference values for distillationLoss and pairwiseRewardLoss, from an independent PyTorch
re-implementation of TRL's GKDTrainer.generalized_jsd_loss (GKD, arXiv:2306.13649 eq. 1) and of
RewardTrainer's loss (-logsigmoid(chosen - rejected - margin).mean()), written from their documented
semantics (TRL's beta = 0 is KL(teacher || student), beta = 1 is KL(student || teacher), otherwise
the generalized JSD with mixture beta * teacher + (1 - beta) * student; logits divided by the
temperature; 'batchmean' over the tokens whose label is not -100).

Writes test/fixtures/distillation_reference.json, read by test/math/distillation_reference.test.ts.
Regenerate with:  /usr/bin/python3 test/reference/distillation_reference.py   (torch 1.13 CPU)
Inputs are drawn once and rounded to float32; the reference is evaluated in float64.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20260101)
B, T, V = 3, 5, 11


def f32(x):
    return x.to(torch.float32).to(torch.float64)


def generalized_jsd_loss(student_logits, teacher_logits, labels, beta, temperature):
    student_logits = student_logits / temperature
    teacher_logits = teacher_logits / temperature
    s = F.log_softmax(student_logits, dim=-1)
    t = F.log_softmax(teacher_logits, dim=-1)
    if beta == 0:
        jsd = F.kl_div(s, t, reduction="none", log_target=True)
    elif beta == 1:
        jsd = F.kl_div(t, s, reduction="none", log_target=True)
    else:
        b = torch.tensor(beta, dtype=s.dtype)
        m = torch.logsumexp(torch.stack([s + torch.log(1 - b), t + torch.log(b)]), dim=0)
        kl_teacher = F.kl_div(m, t, reduction="none", log_target=True)
        kl_student = F.kl_div(m, s, reduction="none", log_target=True)
        jsd = b * kl_teacher + (1 - b) * kl_student
    keep = labels != -100
    return jsd[keep].sum() / keep.sum()


student = f32(2.0 * torch.randn(B, T, V, dtype=torch.float64))
teacher = f32(2.0 * torch.randn(B, T, V, dtype=torch.float64))
teacher[2, 1] = student[2, 1]  # one position where the distributions match
mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 1, 0]], dtype=torch.float64)
labels = torch.where(mask > 0, torch.zeros_like(mask), torch.full_like(mask, -100.0))

cases = []
for divergence, beta in [("forward-kl", 0.0), ("reverse-kl", 1.0), ("jsd", 0.5), ("jsd", 0.1), ("jsd", 0.9)]:
    for temperature in [1.0, 0.7, 2.0]:
        x = student.clone().requires_grad_(True)
        loss = generalized_jsd_loss(x, teacher, labels, beta, temperature)
        loss.backward()
        options = {"divergence": divergence, "temperature": temperature}
        if divergence == "jsd":
            options["beta"] = beta
        cases.append({"options": options, "loss": loss.item(), "grad": x.grad.flatten().tolist()})

# Pairwise (Bradley-Terry) loss, TRL RewardTrainer convention.
P = 7
chosen = f32(3.0 * torch.randn(P, dtype=torch.float64))
rejected = f32(3.0 * torch.randn(P, dtype=torch.float64))
chosen[0], rejected[0] = 40.0, -40.0     # a large gap: loss ~ 0
chosen[1], rejected[1] = -40.0, 40.0     # the other way: loss ~ 80
margin = f32(torch.rand(P, dtype=torch.float64))
pairwise = []
for m in [None, 0.5, "tensor"]:
    c = chosen.clone().requires_grad_(True)
    r = rejected.clone().requires_grad_(True)
    mv = 0.0 if m is None else (margin if m == "tensor" else m)
    loss = -F.logsigmoid(c - r - mv).mean()
    loss.backward()
    pairwise.append({"margin": None if m is None else ("tensor" if m == "tensor" else m), "loss": loss.item(),
                     "gradChosen": c.grad.tolist(), "gradRejected": r.grad.tolist()})

out = {
    "source": "test/reference/distillation_reference.py",
    "torch": torch.__version__,
    "shape": [B, T, V],
    "student": student.flatten().tolist(),
    "teacher": teacher.flatten().tolist(),
    "mask": mask.flatten().tolist(),
    "cases": cases,
    "pairwise": {"chosen": chosen.tolist(), "rejected": rejected.tolist(), "margin": margin.tolist(), "cases": pairwise},
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "distillation_reference.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print(f"wrote {len(cases)} distillation and {len(pairwise)} pairwise cases to {path}")
