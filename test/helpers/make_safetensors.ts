/** Builds a safetensors file from raw tensor bytes (contiguous, in the given order). */
export function makeSafetensors(
    tensors: Record<string, {dtype: string; shape: number[]; data: Uint8Array}>, pad = 0): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length]};
    offset += t.data.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat(pad);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + offset);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  let at = 8 + h.length;
  for (const t of Object.values(tensors)) {
    out.set(t.data, at);
    at += t.data.length;
  }
  return out;
}

/** float32 values as little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
