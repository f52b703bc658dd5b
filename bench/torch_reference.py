#!/usr/bin/env python3
"""PyTorch twins of the tfjs-grpo benchmark cases (bench/cases.ts): same math, same shapes, float32.

Reads a JSON list of {"ref": key, "shape": {...}} on stdin, runs each case on CUDA when available (else
CPU, all of torch's threads), and prints {"device", "results": [{key, shape, name, medianMs}]}.
Method as bench/run.ts: up to 10 warm-up steps (--warmup N), repeated steps (7, or 5 with --quick) within a 4 s budget, at
least 3, median. A step ends when its results are ready: scalar losses are read with .item(),
otherwise torch.cuda.synchronize() on CUDA. Eager mode (no torch.compile).
"""
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference_pipeline import make_cases  # noqa: E402

QUICK = "--quick" in sys.argv
DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")
REPEATS = 5 if QUICK else 7
BUDGET_S = 4.0
WARMUP_STEPS = int(sys.argv[sys.argv.index("--warmup") + 1]) if "--warmup" in sys.argv else 10
BETA, CLIP_LOW, CLIP_HIGH = 0.04, 0.2, 0.28


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def loss_inputs(B, T):
    g = torch.Generator(device=DEV).manual_seed(0)
    u = lambda lo, hi: torch.rand(B, T, generator=g, device=DEV) * (hi - lo) + lo
    lp = u(-3, -0.3)  # as bench/cases.ts: old/ref within 0.3 of lp (all <= 0), 90 % of tokens unmasked
    return dict(lp=lp, old=lp + u(-0.3, 0.3), ref=lp + u(-0.3, 0.3),
                adv=torch.randn(B, generator=g, device=DEV), mask=(u(0, 1) > 0.1).float())


def grpo_loss(lp, old, ref, adv, mask):
    # Clipped surrogate (asymmetric clip) + beta * k3 KL, token-mean over the mask (TRL bnpo / verl token-mean).
    ratio = torch.exp(lp - old)
    a = adv.unsqueeze(1)
    pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_HIGH) * a)
    d = ref - lp
    kl = torch.exp(d) - d - 1
    per_token = pg + BETA * kl
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


def case(key, s):
    """Returns (name, step) where step() runs one measured step and blocks until it is done."""
    if key == "group_advantages":
        r = torch.rand(s["B"], device=DEV)

        def step():
            x = r.view(-1, s["G"])
            out = ((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-4)).view(-1)
            sync()
            return out
        return "torch group-normalized advantages", step
    if key in ("kl_k3", "clipped_policy_loss", "grpo_loss_fwd", "grpo_loss_fwd_bwd", "grpo_loss_fwd_bwd_x10", "gae"):
        x = loss_inputs(s["B"], s["T"])
        if key == "kl_k3":
            def step():
                d = x["ref"] - x["lp"]
                out = torch.exp(d) - d - 1
                sync()
                return out
            return "torch k3 KL", step
        if key == "clipped_policy_loss":
            def step():
                ratio = torch.exp(x["lp"] - x["old"])
                a = x["adv"].unsqueeze(1)
                out = -torch.min(ratio * a, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_HIGH) * a) * x["mask"]
                sync()
                return out
            return "torch clipped surrogate", step
        if key == "grpo_loss_fwd":
            def step():
                with torch.no_grad():
                    return grpo_loss(x["lp"], x["old"], x["ref"], x["adv"], x["mask"]).item()
            return "torch grpo loss fwd (eager)", step
        if key == "grpo_loss_fwd_bwd":
            lp = x["lp"].clone().requires_grad_(True)

            def step():
                lp.grad = None
                loss = grpo_loss(lp, x["old"], x["ref"], x["adv"], x["mask"])
                loss.backward()
                return loss.item()
            return "torch grpo loss fwd+bwd (eager)", step
        if key == "grpo_loss_fwd_bwd_x10":
            lp = x["lp"].clone().requires_grad_(True)

            def step():  # ten steps, one .item(); bench/run.ts divides by 10 (stepsPerRun)
                for _ in range(10):
                    lp.grad = None
                    loss = grpo_loss(lp, x["old"], x["ref"], x["adv"], x["mask"])
                    loss.backward()
                return loss.item()
            return "torch grpo loss fwd+bwd x10, one .item() (eager)", step
        if key == "gae":
            rewards, values, mask = x["lp"], x["ref"], x["mask"] > 0
            gamma, lam = 1.0, 0.95

            def step():
                B, T = rewards.shape
                adv = torch.zeros_like(rewards)
                next_v = torch.zeros(B, device=DEV)
                next_a = torch.zeros(B, device=DEV)
                for t in range(T - 1, -1, -1):
                    on = mask[:, t]
                    delta = rewards[:, t] + gamma * next_v - values[:, t]
                    a = delta + gamma * lam * next_a
                    adv[:, t] = torch.where(on, a, torch.zeros_like(a))
                    next_v = torch.where(on, values[:, t], next_v)
                    next_a = torch.where(on, a, next_a)
                out = adv + values
                sync()
                return out
            return "torch gae (python loop over time)", step
    if key in EXTRA_CASES:
        return EXTRA_CASES[key](s)
    if key == "token_log_probs_fwd_bwd":
        B, T, V = s["B"], s["T"], s["V"]
        logits = torch.randn(B, T, V, device=DEV, requires_grad=True)
        tok = torch.randint(0, V, (B, T), device=DEV)

        def step():
            logits.grad = None
            out = torch.log_softmax(logits, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1).sum()
            out.backward()
            return out.item()
        return "torch log_softmax+gather fwd+bwd", step
    if key == "entropy_fwd_bwd":
        B, T, V = s["B"], s["T"], s["V"]
        logits = torch.randn(B, T, V, device=DEV, requires_grad=True)

        def step():
            logits.grad = None
            logp = torch.log_softmax(logits, -1)
            out = -(logp.exp() * logp).sum(-1).sum()
            out.backward()
            return out.item()
        return "torch log_softmax entropy fwd+bwd", step
    if key == "linear_token_log_probs_fwd_bwd":
        B, T, H, V = s["B"], s["T"], s["H"], s["V"]
        h = torch.randn(B, T, H, device=DEV, requires_grad=True)
        w = (torch.randn(H, V, device=DEV) * 0.05).requires_grad_(True)
        tok = torch.randint(0, V, (B, T), device=DEV)

        def step():
            h.grad = None
            w.grad = None
            out = torch.log_softmax(h @ w, -1).gather(-1, tok.unsqueeze(-1)).squeeze(-1).sum()
            out.backward()
            sync()
            return None
        return "torch matmul+log_softmax+gather fwd+bwd", step
    raise KeyError(key)


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def ppo_inputs(s):
    x = loss_inputs(s["B"], s["T"])
    g = torch.Generator(device=DEV).manual_seed(1)
    v = torch.randn(s["B"], s["T"], generator=g, device=DEV)
    u = lambda lo, hi: torch.rand(s["B"], s["T"], generator=g, device=DEV) * (hi - lo) + lo
    x.update(values=v, old_values=v + u(-0.1, 0.1), returns=v + u(-0.5, 0.5),
             adv2d=torch.randn(s["B"], s["T"], generator=g, device=DEV))
    return x


def done(out):
    """Ends a step: a scalar is read back (.item()), a tensor waited for."""
    if out.dim() == 0:
        return out.item()
    sync()
    return out


def value_loss_terms(v, x, clip=0.2):
    clipped = x["old_values"] + torch.clamp(v - x["old_values"], -clip, clip)
    return 0.5 * torch.max((v - x["returns"]) ** 2, (clipped - x["returns"]) ** 2)


def case_ppo_loss(s):
    x = ppo_inputs(s)
    lp = x["lp"].clone().requires_grad_(True)
    v = x["values"].clone().requires_grad_(True)

    def step():  # clipped surrogate (per-token advantages) + 0.5 * clipped value loss, token-mean
        lp.grad = None
        v.grad = None
        ratio = torch.exp(lp - x["old"])
        a = x["adv2d"]
        pg = -torch.min(ratio * a, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_LOW) * a)
        loss = masked_mean(pg, x["mask"]) + 0.5 * masked_mean(value_loss_terms(v, x), x["mask"])
        loss.backward()
        return loss.item()
    return "torch ppo loss fwd+bwd (policy + clipped value)", step


def case_value_loss(s):
    x = ppo_inputs(s)
    v = x["values"].clone().requires_grad_(True)

    def step():
        v.grad = None
        loss = masked_mean(value_loss_terms(v, x), x["mask"])
        loss.backward()
        return loss.item()
    return "torch clipped value loss fwd+bwd", step


def case_kl_shaped_rewards(s):
    x = loss_inputs(s["B"], s["T"])
    kl = x["lp"] - x["ref"]
    scores = torch.rand(s["B"], device=DEV)
    T = s["T"]

    def step():  # -coef * kl on the mask, + score on each row's last mask token
        r = -0.05 * kl * x["mask"]
        last = (x["mask"] * torch.arange(1, T + 1, device=DEV)).argmax(1)
        r[torch.arange(s["B"], device=DEV), last] += scores
        return done(r)
    return "torch kl-shaped rewards", step


def case_explained_variance(s):
    x = ppo_inputs(s)
    m = x["mask"] > 0

    def step():
        v, r = x["values"][m], x["returns"][m]
        return done(1 - torch.var(r - v, unbiased=False) / torch.var(r, unbiased=False))
    return "torch explained variance (masked)", step


def case_masked(fn, name):
    def make(s):
        x = loss_inputs(s["B"], s["T"])
        return name, lambda: done(fn(x["lp"], x["mask"]))
    return make


def masked_variance(x, mask):
    mean = masked_mean(x, mask)
    n = mask.sum()
    return ((x - mean) ** 2 * mask).sum() / (n - 1).clamp(min=1.0)


def whiten(x, mask):
    return (x - masked_mean(x, mask)) * torch.rsqrt(masked_variance(x, mask) + 1e-8)


def case_rloo(s):
    r = torch.rand(s["B"], device=DEV)
    G = s["G"]

    def step():
        x = r.view(-1, G)
        return done((x - (x.sum(1, keepdim=True) - x) / (G - 1)).view(-1))
    return "torch RLOO advantages", step


def case_entropy(s):
    logits = torch.randn(s["B"], s["T"], s["V"], device=DEV) * 2

    def step():
        lsm = torch.log_softmax(logits, -1)
        return done(-(lsm.exp() * lsm).sum(-1))
    return "torch entropy from logits", step


def case_grad(fn, name):
    """fwd+bwd of sum(fn(lp, x)) w.r.t. lp, the loss read back (as bench/small_op_cases.ts)."""
    def make(s):
        x = loss_inputs(s["B"], s["T"])
        lp = x["lp"].clone().requires_grad_(True)

        def step():
            lp.grad = None
            loss = fn(lp, x).sum()
            loss.backward()
            return loss.item()
        return name, step
    return make


def clipped_surrogate(lp, x):
    ratio = torch.exp(lp - x["old"])
    a = x["adv"].unsqueeze(1)
    return -torch.min(ratio * a, torch.clamp(ratio, 1 - CLIP_LOW, 1 + CLIP_HIGH) * a) * x["mask"]


def k3(lp, x):
    d = x["ref"] - lp
    return torch.exp(d) - d - 1


EXTRA_CASES = {
    "clipped_policy_loss_fwd_bwd": case_grad(clipped_surrogate, "torch clipped surrogate fwd+bwd"),
    "kl_k3_fwd_bwd": case_grad(k3, "torch k3 KL fwd+bwd"),
    "aggregate_loss_fwd_bwd": case_grad(lambda lp, x: masked_mean(lp, x["mask"]), "torch token-mean aggregation fwd+bwd"),
    "ppo_loss_fwd_bwd": case_ppo_loss,
    "value_loss_fwd_bwd": case_value_loss,
    "kl_shaped_rewards": case_kl_shaped_rewards,
    "explained_variance": case_explained_variance,
    "aggregate_loss": case_masked(masked_mean, "torch token-mean aggregation"),
    "masked_sum": case_masked(lambda x, m: (x * m).sum(), "torch masked sum"),
    "masked_mean": case_masked(masked_mean, "torch masked mean"),
    "masked_variance": case_masked(masked_variance, "torch masked variance (unbiased)"),
    "whiten": case_masked(whiten, "torch masked whiten"),
    "rloo_advantages": case_rloo,
    "entropy_from_logits": case_entropy,
    **make_cases(DEV),
}


def shape_string(s):
    return ",".join(f"{k}={v}" for k, v in s.items())


def main():
    cases = json.load(sys.stdin)
    results = []
    for c in cases:
        key, s = c["ref"], c["shape"]
        try:
            name, step = case(key, s)
            warm_start = time.perf_counter()  # warm-up as bench/run.ts: up to 10 steps, a quarter of the budget
            for w in range(WARMUP_STEPS):
                step()
                if time.perf_counter() - warm_start > BUDGET_S / 4:
                    break
            times, cpu = [], []
            start = time.perf_counter()
            while len(times) < REPEATS and (len(times) < 3 or time.perf_counter() - start < BUDGET_S):
                c0 = time.process_time()
                t0 = time.perf_counter()
                step()
                times.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
            per = 10 if key.endswith("_x10") else 1
            med = statistics.median(times) / per
            cpu_med = statistics.median(cpu) / per
            results.append(dict(key=key, shape=shape_string(s), name=name, medianMs=float(f"{med:.4g}"),
                                cpuMs=float(f"{cpu_med:.4g}")))
            print(f"  torch {key} [{shape_string(s)}] on {DEV}: {med:.4g} ms", file=sys.stderr)
        except Exception as e:  # a case that does not fit memory is reported and skipped
            print(f"  torch {key} [{shape_string(s)}]: ERROR {e}", file=sys.stderr)
        if DEV.type == "cuda":
            torch.cuda.empty_cache()
    print(json.dumps(dict(device=str(DEV) + (f" ({torch.cuda.get_device_name()})" if DEV.type == "cuda" else
                                               f" ({torch.get_num_threads()} threads)"), results=results)))


if __name__ == "__main__":
    main()
