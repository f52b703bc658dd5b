"""The PyTorch twin of bench/qwen2_step.ts: makes a Qwen2-0.5B-shaped checkpoint with random weights
(transformers; nothing is downloaded) and times one full GRPO step in PyTorch eager on the GPU.

    python3 bench/qwen2_step_torch.py --make DIR          # writes the checkpoint (BF16 safetensors)
    python3 bench/qwen2_step_torch.py --dir DIR --out torch.json [--batch 4 --prompt 64 --completion 192]

Same step as the TypeScript side: logits of prompt + completion, log-softmax + gather of the completion
tokens, the GRPO clipped loss (beta 0, token-mean), backward, global-norm clip at 1, Adam (lr 1e-6); float32 weights on the GPU,
TF32 off (tfjs webgpu computes in float32); the loss is read back (`.item()`) every step.
"""
import argparse
import json
import statistics
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--make")
p.add_argument("--dir")
p.add_argument("--out")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--prompt", type=int, default=64)
p.add_argument("--completion", type=int, default=192)
p.add_argument("--steps", type=int, default=5)
p.add_argument("--warmup", type=int, default=2)
a = p.parse_args()

if a.make:
    cfg = Qwen2Config(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                      num_key_value_heads=2, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
                      rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}, rms_norm_eps=1e-6)
    torch.manual_seed(0)
    m = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
    m.save_pretrained(a.make)
    print("saved", a.make, sum(x.numel() for x in m.parameters()))
    raise SystemExit

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
model = Qwen2ForCausalLM.from_pretrained(a.dir, dtype=torch.float32).to(dev)
model.train()
B, P, C = a.batch, a.prompt, a.completion
V = model.config.vocab_size
g = torch.Generator().manual_seed(1)
tokens = torch.randint(0, V, (B, P + C), generator=g).to(dev)
completion = tokens[:, P:]
mask = torch.ones(B, C, device=dev)
adv = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(B)], device=dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-6)


def logps():
    logits = model(input_ids=tokens).logits[:, P - 1:P - 1 + C].float()
    return torch.log_softmax(logits, -1).gather(-1, completion[..., None])[..., 0]


with torch.no_grad():
    old = logps()
times = []
for s in range(a.warmup + a.steps):
    torch.cuda.synchronize()
    t = time.perf_counter()
    lp = logps()
    ratio = torch.exp(lp - old)
    pg = torch.maximum(-adv[:, None] * ratio, -adv[:, None] * ratio.clamp(0.8, 1.2))
    loss = (pg * mask).sum() / mask.sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    val = loss.item()
    ms = (time.perf_counter() - t) * 1000
    if s >= a.warmup:
        times.append(ms)
    print(f"torch step {s}: {ms:.1f} ms loss {val:.6f}")
res = {"framework": f"torch {torch.__version__} eager, CUDA, float32 (TF32 off)", "batch": B, "prompt": P,
       "completion": C, "stepMsMedian": statistics.median(times), "stepMs": times,
       "params": sum(x.numel() for x in model.parameters()), "gpu": torch.cuda.get_device_name()}
print(json.dumps(res))
if a.out:
    json.dump(res, open(a.out, "w"), indent=2)
