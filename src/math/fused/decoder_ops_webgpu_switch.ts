/**
 * One switch for the fused webgpu kernels of the decoder layers (`rmsNorm`, RoPE, the attention
 * softmax, the SwiGLU gate), for self-checks and benchmarks that compare them with the composed ops
 * on the same backend.
 * @module
 */
import {setAttentionSoftmaxWebGPU} from './attention_softmax_webgpu.js';
import {setRmsNormWebGPU} from './rms_norm_webgpu.js';
import {setRopeWebGPU} from './rope_webgpu.js';
import {setSwigluWebGPU} from './swiglu_webgpu.js';

/** @internal Turns every fused webgpu decoder-layer kernel on or off (default on). */
export function setDecoderOpsWebGPU(on: boolean): void {
  setRmsNormWebGPU(on);
  setRopeWebGPU(on);
  setAttentionSoftmaxWebGPU(on);
  setSwigluWebGPU(on);
}
