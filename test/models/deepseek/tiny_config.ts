import type {DeepseekV3Config} from '../../../src/models/deepseek_v3_config.js';

/** A tiny DeepSeek-V3 config: 2 layers (dense, MoE 4 experts in 2 groups), q_lora, one MTP module. */
export const tinyConfig: DeepseekV3Config = {
  vocab_size: 12, hidden_size: 16, intermediate_size: 24, moe_intermediate_size: 8, num_hidden_layers: 2,
  num_attention_heads: 2, n_shared_experts: 1, n_routed_experts: 4, num_experts_per_tok: 2, n_group: 2, topk_group: 1,
  routed_scaling_factor: 1.5, first_k_dense_replace: 1, kv_lora_rank: 8, q_lora_rank: 6, qk_nope_head_dim: 4,
  qk_rope_head_dim: 4, v_head_dim: 4, max_position_embeddings: 16, num_nextn_predict_layers: 1,
};
