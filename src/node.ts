/**
 * tfjs-grpo/node: the Node-only entry point (file-system access), kept apart from the root entry so
 * browser bundles never import `fs`.
 *
 * ```ts
 * import {saveCheckpointFiles, loadCheckpointFiles} from 'tfjs-grpo/node';
 * ```
 * @module
 */
export {loadCheckpointFiles, saveCheckpointFiles} from './train/checkpoint_files.js';
export type {CheckpointPaths} from './train/checkpoint_files.js';

// --- pretrained checkpoints from a folder ---
export {loadPretrained, readPretrainedFolder} from './models/pretrained/load_pretrained_folder.js';

// --- the DeepSeek-R1 pipeline (checkpoints per stage on disk) ---
export {R1_STAGES, runR1Pipeline} from './train/r1_pipeline.js';
export type {
  R1PipelineConfig, R1PipelineResult, R1RlSettings, R1SftSettings, R1Stage, R1StageResult, SftExample,
} from './train/r1_pipeline.js';
