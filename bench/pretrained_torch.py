"""PyTorch reference of bench/pretrained.ts: transformers' from_pretrained (float32, CPU) of each folder.

python3 bench/pretrained_torch.py FOLDER... prints `RESULT [ {loadMs, maxRssMb} | null, ... ]`; each folder is
loaded in a fresh process (its own peak RSS). FP8 folders are loaded with their quantization_config, which
transformers dequantizes only with a GPU kernel, so they may be null on CPU.
"""
import json
import resource
import subprocess
import sys
import time


def one(folder):
    import torch  # noqa: F401
    from transformers import AutoModelForCausalLM
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model(torch.tensor([[1]]))
    ms = (time.perf_counter() - t0) * 1000
    print("ONE " + json.dumps({"loadMs": ms, "maxRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    if sys.argv[1] == "--one":
        one(sys.argv[2])
        sys.exit(0)
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"torch/transformers not importable: {e}", file=sys.stderr)
        sys.exit(1)
    out = []
    for folder in sys.argv[1:]:
        r = subprocess.run([sys.executable, __file__, "--one", folder], capture_output=True, text=True)
        line = next((l for l in r.stdout.splitlines() if l.startswith("ONE ")), None)
        out.append(json.loads(line[4:]) if line else None)
    print("RESULT " + json.dumps(out))
