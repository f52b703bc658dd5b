#!/usr/bin/env python3
"""Reference advantages for test/math/{group_advantages,rloo_advantages}.test.ts.

Re-implements, in our own words, the outcome-reward advantage estimators of two Python libraries
(read from their sources; no code copied) and writes test/fixtures/advantages_reference.json:

* TRL GRPOTrainer (`_generate_and_score_completions`): groups are contiguous blocks of
  `num_generations` rows; A = r - group mean, divided by (std + 1e-4) where std is torch.std
  (unbiased) of the group (`scale_rewards="group"`) or of the whole batch of rewards
  (`scale_rewards="batch"`); no division for `scale_rewards="none"`.
* verl `compute_grpo_outcome_advantage` (verl/trainer/ppo/core_algos.py): groups given by an index
  array in any order; A = (r - group mean) / (group std + 1e-6) with torch.std, or r - mean when
  `norm_adv_by_std_in_grpo=False`. A group with ONE member uses mean 0 and std 1 (so A = r / (1 + eps)).
* RLOO (Ahmadian et al. 2024, arXiv:2402.14740; verl `compute_rloo_outcome_advantage`):
  A_i = r_i - mean of the other rewards of the group; verl leaves a singleton's reward as is.

All arithmetic is float32 torch, as in the trainers. Run with a python that has torch:
    python3 test/reference/advantages_reference.py
The JSON is committed; the tests never need python.
"""
import json
import os
from collections import OrderedDict

import torch


def trl_advantages(rewards, group_size, scale):
    r = torch.tensor(rewards, dtype=torch.float32)
    grouped = r.view(-1, group_size)
    centred = r - grouped.mean(dim=1).repeat_interleave(group_size)
    if scale == "none":
        return centred
    if scale == "group":
        spread = grouped.std(dim=1).repeat_interleave(group_size)
    else:  # "batch": std of all raw rewards of the batch
        spread = r.std().expand_as(r)
    return centred / (spread + 1e-4)


def group_rows(ids):
    rows = OrderedDict()
    for i, g in enumerate(ids):
        rows.setdefault(g, []).append(i)
    return rows


def verl_grpo(rewards, ids, norm_by_std, eps=1e-6):
    r = torch.tensor(rewards, dtype=torch.float32)
    out = torch.empty_like(r)
    for members in group_rows(ids).values():
        vals = r[members]
        if len(members) == 1:
            mean, std = torch.tensor(0.0), torch.tensor(1.0)
        else:
            mean, std = vals.mean(), vals.std()
        out[members] = (vals - mean) / (std + eps) if norm_by_std else vals - mean
    return out


def rloo(rewards, ids):
    r = torch.tensor(rewards, dtype=torch.float32)
    out = r.clone()  # a singleton keeps its raw reward (verl's convention)
    for members in group_rows(ids).values():
        n = len(members)
        if n > 1:
            vals = r[members]
            others_mean = (vals.sum() - vals) / (n - 1)
            out[members] = vals - others_mean
    return out


CASES = [
    # name, rewards, group size (contiguous) or None, group ids
    ("binary_g4", [1, 0, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0], 4, None),
    ("mixed_g4_with_equal_group", [1, 0, 0, 1, 0.5, 0.5, 0.5, 0.5, 2, -1, 0.3, 7.25], 4, None),
    ("tenths_g3", [0.1, 0.1, 0.1, 0.2, 0.7, 0.1], 3, None),
    ("pairs_g2", [0.25, -1.5, 3, 3.5, -2, 10, 0.001, 0.002], 2, None),
    ("large_g3", [100, 101, 250, -3, 1e3, 7], 3, None),
    ("binary_g8", [1, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1], 8, None),
    ("interleaved_ids_with_singleton", [1, 0.5, 0, 2, 1.5, 1, 4, 0, 9], None, [3, 1, 3, 2, 1, 3, 2, 1, 5]),
]


def main():
    out = {"generator": "test/reference/advantages_reference.py", "torch": torch.__version__, "cases": []}
    for name, rewards, g, ids in CASES:
        case = {"name": name, "rewards": rewards}
        if g is not None:
            case["groupSize"] = g
            ids = [i // g for i in range(len(rewards))]
            case["trl"] = {s: trl_advantages(rewards, g, s).tolist() for s in ("group", "batch", "none")}
        else:
            case["groupIds"] = ids
        case["verl"] = {
            "normByStd": verl_grpo(rewards, ids, True).tolist(),
            "noNorm": verl_grpo(rewards, ids, False).tolist(),
        }
        case["rloo"] = rloo(rewards, ids).tolist()
        out["cases"].append(case)
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "fixtures", "advantages_reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
