// npx tsx bench/pretrained.ts [--quick] [--out DIR] [--no-torch]
//
// Load time and peak memory of `loadPretrained` (tfjs-grpo/node, cpu backend) on checkpoint folders:
// the committed tiny Qwen2 fixture and synthetic Qwen2-shaped checkpoints written to a temporary folder
// (F32, BF16, BF16 in 4 shards, FP8 E4M3 with 128x128 weight_scale_inv blocks). Each load runs in a
// fresh child process so that its peak RSS (`process.resourceUsage().maxRSS`) is its own; the time
// covers reading the files, validating the headers, decoding/dequantising to float32 and creating the
// tfjs variables, up to a first forward pass of one token being readable. The same folders are loaded
// by transformers' `from_pretrained` (float32, CPU) in the same run when python3 has torch and
// transformers (bench/pretrained_torch.py). Writes DIR/pretrained-latest.json and prints a table.
import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

interface Shape { vocab: number; hidden: number; layers: number; intermediate: number; heads: number; kvHeads: number }
type Dtype = 'F32' | 'BF16' | 'F8_E4M3';

function specs(s: Shape): Array<[string, number[], boolean]> {
  const d = s.hidden / s.heads;
  const out: Array<[string, number[], boolean]> = [['model.embed_tokens.weight', [s.vocab, s.hidden], false]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push([p + 'input_layernorm.weight', [s.hidden], false], [p + 'post_attention_layernorm.weight', [s.hidden], false],
        [p + 'self_attn.q_proj.weight', [s.heads * d, s.hidden], true], [p + 'self_attn.q_proj.bias', [s.heads * d], false],
        [p + 'self_attn.k_proj.weight', [s.kvHeads * d, s.hidden], true], [p + 'self_attn.k_proj.bias', [s.kvHeads * d], false],
        [p + 'self_attn.v_proj.weight', [s.kvHeads * d, s.hidden], true], [p + 'self_attn.v_proj.bias', [s.kvHeads * d], false],
        [p + 'self_attn.o_proj.weight', [s.hidden, s.heads * d], true],
        [p + 'mlp.gate_proj.weight', [s.intermediate, s.hidden], true], [p + 'mlp.up_proj.weight', [s.intermediate, s.hidden], true],
        [p + 'mlp.down_proj.weight', [s.hidden, s.intermediate], true]);
  }
  out.push(['model.norm.weight', [s.hidden], false]);
  return out;
}

/** Writes a synthetic Qwen2 checkpoint folder; linear weights in `dtype`, the rest in F32 (BF16 when dtype is BF16). */
function writeCheckpoint(dir: string, s: Shape, dtype: Dtype, shards: number): number {
  mkdirSync(dir, {recursive: true});
  const config: Record<string, unknown> = {
    architectures: ['Qwen2ForCausalLM'], vocab_size: s.vocab, hidden_size: s.hidden, intermediate_size: s.intermediate,
    num_hidden_layers: s.layers, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, max_position_embeddings: 4096,
    rms_norm_eps: 1e-6, rope_theta: 1e6, rope_scaling: null, tie_word_embeddings: true, hidden_act: 'silu', eos_token_id: 2,
  };
  if (dtype === 'F8_E4M3') config['quantization_config'] = {quant_method: 'fp8', fmt: 'e4m3', weight_block_size: [128, 128]};
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const tensors: Array<{name: string; dtype: string; shape: number[]; data: Uint8Array}> = [];
  let params = 0;
  for (const [name, shape, isLinear] of specs(s)) {
    const n = shape.reduce((a, b) => a * b, 1);
    params += n;
    const f = new Float32Array(n);
    for (let i = 0; i < n; i++) f[i] = name.endsWith('norm.weight') ? 1 : rand() * 0.05;
    if (isLinear && dtype === 'F8_E4M3') {
      const codes = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const c = Math.floor((rand() + 0.5) * 256) & 0xff;
        codes[i] = (c & 0x7f) === 0x7f ? c - 1 : c; // 0x7f / 0xff are NaN in e4m3fn
      }
      tensors.push({name, dtype: 'F8_E4M3', shape, data: codes});
      const grid = [Math.ceil(shape[0]! / 128), Math.ceil(shape[1]! / 128)];
      tensors.push({name: name + '_scale_inv', dtype: 'F32', shape: grid,
        data: new Uint8Array(new Float32Array(grid[0]! * grid[1]!).fill(1e-3).buffer)});
    } else if (dtype === 'BF16') {
      const u = new Uint32Array(f.buffer);
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = u[i]! >>> 16;
      tensors.push({name, dtype: 'BF16', shape, data: new Uint8Array(h.buffer)});
    } else {
      tensors.push({name, dtype: 'F32', shape, data: new Uint8Array(f.buffer)});
    }
  }
  const perShard = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  for (let k = 0; k < shards; k++) {
    const part = tensors.slice(k * perShard, (k + 1) * perShard);
    const file = shards === 1 ? 'model.safetensors' : `model-${String(k + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const t of part) {
      header[t.name] = {dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length]};
      offset += t.data.length;
      weightMap[t.name] = file;
    }
    const h = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + h.length + offset);
    new DataView(bytes.buffer).setUint32(0, h.length, true);
    bytes.set(h, 8);
    let at = 8 + h.length;
    for (const t of part) {
      bytes.set(t.data, at);
      at += t.data.length;
    }
    writeFileSync(path.join(dir, file), bytes);
  }
  if (shards > 1) writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({metadata: {}, weight_map: weightMap}));
  return params;
}

/** Child: load one folder, print {loadMs, maxRssMb, ...} as JSON. */
async function child(folder: string): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  const tf = await import('@tensorflow/tfjs-core');
  await tf.setBackend('cpu');
  const {loadPretrained} = await import('../src/node.js');
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const model = await loadPretrained(folder);
  const loadMs = performance.now() - t0;
  const {logits, hidden} = model.apply(tf.tensor2d([[1]], [1, 1], 'int32'));
  await logits.data();
  const firstForwardMs = performance.now() - t0;
  tf.dispose([logits, hidden!]);
  const out = {
    loadMs, firstForwardMs, params: model.numParams(), tensorBytes: tf.memory().numBytes,
    maxRssMb: process.resourceUsage().maxRSS / 1024, rssBeforeMb: rssBefore / 2 ** 20,
  };
  model.dispose();
  console.log('RESULT ' + JSON.stringify(out));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]!);
  const quick = argv.includes('--quick');
  const outDir = argv.includes('--out') ? argv[argv.indexOf('--out') + 1]! : path.join(here, 'results');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tfjs-grpo-pretrained-'));
  const shape: Shape = quick
    ? {vocab: 8192, hidden: 256, layers: 4, intermediate: 704, heads: 4, kvHeads: 2}
    : {vocab: 32000, hidden: 512, layers: 8, intermediate: 1408, heads: 8, kvHeads: 2};
  const cases: Array<{name: string; folder: string; params?: number}> = [
    {name: 'fixture qwen2_tied_f32 (95k params)', folder: path.join(here, '../test/fixtures/pretrained/qwen2_tied_f32')},
  ];
  for (const [dtype, shards] of [['F32', 1], ['BF16', 1], ['BF16', 4], ['F8_E4M3', 1]] as Array<[Dtype, number]>) {
    const folder = path.join(tmp, `${dtype}-${shards}`);
    const params = writeCheckpoint(folder, shape, dtype, shards);
    cases.push({name: `synthetic Qwen2 ${dtype}${shards > 1 ? ` x${shards} shards` : ''}`, folder, params});
  }
  const rows: Array<Record<string, unknown>> = [];
  for (const c of cases) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', c.folder],
        {encoding: 'utf8', maxBuffer: 1 << 24});
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line === undefined) throw new Error(`child failed for ${c.name}: ${r.stderr.slice(-2000)}`);
    const res = JSON.parse(line.slice(7)) as Record<string, number>;
    const diskMb = spawnSync('du', ['-sm', c.folder], {encoding: 'utf8'}).stdout.split('\t')[0];
    rows.push({name: c.name, diskMb: Number(diskMb), ...res, torch: null});
  }
  if (!argv.includes('--no-torch')) {
    const t = spawnSync('python3', [path.join(here, 'pretrained_torch.py'), ...cases.map((c) => c.folder)], {encoding: 'utf8'});
    const line = t.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    if (line !== undefined) {
      const torch = JSON.parse(line.slice(7)) as Array<Record<string, number> | null>;
      torch.forEach((x, i) => { rows[i]!['torch'] = x; });
    } else {
      console.log(`(PyTorch reference skipped: ${(t.stderr || t.stdout).trim().split('\n').pop()})`);
    }
  }
  rmSync(tmp, {recursive: true, force: true});
  mkdirSync(outDir, {recursive: true});
  const meta = {date: new Date().toISOString(), cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version, shape};
  writeFileSync(path.join(outDir, 'pretrained-latest.json'), JSON.stringify({meta, rows}, null, 2));
  const fmt = (v: unknown, d = 0): string => (typeof v === 'number' ? v.toFixed(d) : '-');
  console.log('| checkpoint | disk MB | params | load ms | +1st forward ms | peak RSS MB | tfjs MB | torch load ms | torch peak RSS MB |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    const t = r['torch'] as Record<string, number> | null;
    console.log(`| ${r['name']} | ${fmt(r['diskMb'])} | ${fmt((r['params'] as number) / 1e6, 2)}M | ${fmt(r['loadMs'])} | ` +
        `${fmt(r['firstForwardMs'])} | ${fmt(r['maxRssMb'])} | ${fmt((r['tensorBytes'] as number) / 2 ** 20)} | ` +
        `${fmt(t?.['loadMs'])} | ${fmt(t?.['maxRssMb'])} |`);
  }
  console.log(`machine: ${meta.cpus} CPUs, load average ${meta.loadavg.map((x) => x.toFixed(1)).join(' ')}`);
}

await main();
