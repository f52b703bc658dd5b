"""PyTorch twins of bench/pipeline_loss_cases.ts (the R1 pipeline's losses), used by torch_reference.py.

Each case returns (name, step); a step runs fwd+bwd and reads the loss back with .item(), as the tfjs
cases read theirs. Same inputs as the TypeScript side: logits ~ N(0, 2), 90 % of tokens scored.
"""
import torch
import torch.nn.functional as F


def make_cases(dev):
    def token_mask(B, T):
        return (torch.rand(B, T, device=dev) > 0.1).float()

    def sft(s):
        B, T, V = s["B"], s["T"], s["V"]
        logits = (torch.randn(B, T, V, device=dev) * 2).requires_grad_(True)
        labels = torch.randint(0, V, (B, T), device=dev)
        mask = token_mask(B, T)

        def step():
            logits.grad = None
            nll = F.cross_entropy(logits.view(-1, V), labels.view(-1), reduction="none").view(B, T)
            loss = (nll * mask).sum() / mask.sum()  # token-mean
            loss.backward()
            return loss.item()
        return "torch cross-entropy (token-mean) fwd+bwd", step

    def jsd(s):
        B, T, V = s["B"], s["T"], s["V"]
        student = (torch.randn(B, T, V, device=dev) * 2).requires_grad_(True)
        teacher = torch.randn(B, T, V, device=dev) * 2
        mask = token_mask(B, T)
        beta = 0.5

        def step():
            student.grad = None
            lq = torch.log_softmax(student, -1)
            lp = torch.log_softmax(teacher, -1)
            # as TRL's GKDTrainer.generalized_jsd_loss: m = beta p + (1 - beta) q
            lm = torch.logsumexp(torch.stack([lq + torch.log(torch.tensor(1 - beta)), lp + torch.log(torch.tensor(beta))]), 0)
            per_token = beta * (lp.exp() * (lp - lm)).sum(-1) + (1 - beta) * (lq.exp() * (lq - lm)).sum(-1)
            loss = (per_token * mask).sum() / mask.sum()
            loss.backward()
            return loss.item()
        return "torch generalized JSD (beta 0.5) fwd+bwd", step

    def pairwise(s):
        n = s["B"]
        chosen = (torch.randn(n, device=dev) + 0.5).requires_grad_(True)
        rejected = torch.randn(n, device=dev).requires_grad_(True)

        def step():
            chosen.grad = None
            rejected.grad = None
            loss = -F.logsigmoid(chosen - rejected).mean()
            loss.backward()
            return loss.item()
        return "torch pairwise reward loss fwd+bwd", step

    return {"sft_loss_fwd_bwd": sft, "distillation_jsd_fwd_bwd": jsd, "pairwise_reward_loss_fwd_bwd": pairwise}
