/**
 * tfjs-grpo: reinforcement-learning post-training of language models (GRPO, PPO, rule-based rewards)
 * as pure TensorFlow.js tensor functions.
 * @module
 */

// --- validation ---
export {configureValidation} from './math/assert.js';
export type {ValidationConfig} from './math/assert.js';

// --- math: advantages and masked statistics ---

// --- math: KL, policy loss, aggregation, grpoLoss ---

// --- math: log-probs and entropy ---

// --- math: PPO (GAE, value loss, ppoLoss) ---

// --- kernels (fused paths) ---

// --- rewards ---

// --- models ---

// --- train ---
