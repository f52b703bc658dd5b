"""Summarizes a V8 .cpuprofile (bench/qwen2_step.ts --cpu-prof): self and total time by function.

    python3 bench/cpuprof_summary.py PROFILE.json [N]
"""
import collections
import json
import sys

prof = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
nodes = {n["id"]: n for n in prof["nodes"]}
dt = collections.Counter()
for sid, d in zip(prof["samples"], prof["timeDeltas"]):
    dt[sid] += d
parent = {}
for n in prof["nodes"]:
    for c in n.get("children", []):
        parent[c] = n["id"]


def name(n):
    f = n["callFrame"]
    return f"{f['functionName'] or '(anon)'} {f['url'].split('/')[-1]}:{f['lineNumber']}"


self_t = collections.Counter()
total_t = collections.Counter()
for nid, d in dt.items():
    self_t[name(nodes[nid])] += d
    seen = set()
    x = nid
    while x is not None:
        k = name(nodes[x])
        if k not in seen:
            total_t[k] += d
            seen.add(k)
        x = parent.get(x)
all_us = sum(dt.values())
print(f"total {all_us / 1000:.1f} ms")
print("-- self")
for k, v in self_t.most_common(top):
    print(f"{v / 1000:9.1f} ms {100 * v / all_us:5.1f}%  {k}")
print("-- total")
for k, v in total_t.most_common(top):
    print(f"{v / 1000:9.1f} ms {100 * v / all_us:5.1f}%  {k}")
