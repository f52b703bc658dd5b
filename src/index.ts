/**
 * tfjs-grpo: reinforcement-learning post-training of language models (GRPO, PPO, rule-based rewards)
 * as pure TensorFlow.js tensor functions.
 *
 * The root entry is browser-safe (no `fs`); Node-only file I/O is in `tfjs-grpo/node`. Exports are
 * grouped by area below, one `// === Area ===` header each (the same areas as the API reference's
 * sidebar and the README's table); add a new export under its area. test/docs/api_surface.test.ts
 * checks that every value exported here is named in the README.
 * @module
 */

// === Validation ===
export {configureValidation} from './math/assert.js';
export type {ValidationConfig} from './math/assert.js';

// === Advantages (and masked statistics) ===
export {groupAdvantages} from './math/group_advantages.js';
export type {GroupAdvantagesOptions} from './math/group_advantages.js';
export {rlooAdvantages} from './math/rloo_advantages.js';
export type {RlooAdvantagesOptions} from './math/rloo_advantages.js';
export type {GroupOptions} from './math/group_index.js';
export {maskedSum, maskedMean, maskedVariance, whiten} from './math/masked_stats.js';
export type {MaskedReduceOptions, MaskedVarianceOptions, WhitenOptions} from './math/masked_stats.js';

// === Losses (KL, clipped policy loss, aggregation, grpoLoss) ===
export {klPenalty, KL_ESTIMATORS} from './math/kl_penalty.js';
export type {KlEstimator, KlPenaltyOptions} from './math/kl_penalty.js';
export {clippedPolicyLoss} from './math/clipped_policy_loss.js';
export type {ClippedPolicyLossOptions, PolicyLossInputs, RatioLevel} from './math/clipped_policy_loss.js';
export {aggregateLoss, LOSS_AGGREGATIONS} from './math/aggregate_loss.js';
export {sftLoss} from './math/sft_loss.js';
export {passAtK} from './math/pass_at_k.js';
export type {SftLossInputs, SftLossOptions} from './math/sft_loss.js';
export type {AggregateLossOptions, LossAggregation} from './math/aggregate_loss.js';
export {grpoLoss, grpoLossWithStats} from './math/grpo_loss.js';
export type {GrpoLossInputs, GrpoLossOptions, GrpoLossStats, GrpoLossWithStatsResult} from './math/grpo_loss.js';

// === Log-probs (and entropy) ===
export {tokenLogProbs} from './math/token_log_probs.js';
export type {TokenLogProbsOptions} from './math/token_log_probs.js';
export {entropyFromLogits} from './math/entropy_from_logits.js';
export type {EntropyFromLogitsOptions} from './math/entropy_from_logits.js';
export {linearTokenLogProbs} from './math/linear_token_log_probs.js';
export type {LinearTokenLogProbsOptions} from './math/linear_token_log_probs.js';

// === PPO (GAE, value loss, ppoLoss) ===
export {gae} from './math/gae.js';
export type {GaeInputs, GaeOptions, GaeResult} from './math/gae.js';
export {klShapedRewards} from './math/kl_reward_shaping.js';
export type {KlShapedRewardsInputs, KlShapedRewardsOptions} from './math/kl_reward_shaping.js';
export {explainedVariance} from './math/explained_variance.js';
export {valueLoss} from './math/value_loss.js';
export type {ValueLossInputs, ValueLossOptions} from './math/value_loss.js';
export {ppoLoss} from './math/ppo_loss.js';
export type {PpoLossInputs, PpoLossOptions, PpoLossResult, PpoLossStats} from './math/ppo_loss.js';

// === Distillation and reward-model losses (R1 stages 4-5) ===
export {distillationLoss} from './math/distillation_loss.js';
export type {DistillationLossInputs, DistillationLossOptions, Divergence} from './math/distillation_loss.js';
export {pairwiseRewardLoss} from './math/pairwise_reward_loss.js';
export type {PairwiseRewardLossInputs, PairwiseRewardLossOptions} from './math/pairwise_reward_loss.js';

// === FP8 numerics (DeepSeek-V3 §3.3) ===
export {decodeFp8, encodeFp8, FP8_DECODE_TABLES, FP8_FORMATS} from './math/fp8_format.js';
export type {Fp8Format, Fp8FormatSpec} from './math/fp8_format.js';
export {fakeQuantFp8} from './math/fake_quant_fp8.js';
export type {FakeQuantFp8Options} from './math/fake_quant_fp8.js';
export {fp8Matmul} from './math/fp8_matmul.js';
export type {Fp8MatmulOptions} from './math/fp8_matmul.js';

// === Kernels (fused paths) ===
export {fusedGrpoLossAvailable} from './math/fused/grpo_loss_fused.js';
export {registerWebGPUMatmul, unregisterWebGPUMatmul} from './math/fused/matmul_webgpu.js';
export {tuneWebGPUBackend, type WebGPUTuning, type WebGPUTuningState} from './math/fused/webgpu_fast_paths.js';
export type {GrpoLossImplementation} from './math/fused/grpo_loss_fused.js';

// === Rewards ===
export type {ComposedReward, MaybePromise, RewardBreakdown, RewardFn, Sample} from './rewards/types.js';
export {accuracyReward} from './rewards/accuracy_reward.js';
export type {AccuracyRewardOptions, AccuracyWarning} from './rewards/accuracy_reward.js';
export {answersEquivalent} from './rewards/answers_equivalent.js';
export type {AnswersEquivalentOptions, NumericAnswers} from './rewards/answers_equivalent.js';
export {extractAnswer} from './rewards/extract_answer.js';
export type {AnswerSource, ExtractAnswerOptions} from './rewards/extract_answer.js';
export {formatReward} from './rewards/format_reward.js';
export type {FormatRewardOptions} from './rewards/format_reward.js';
export {tagCountReward} from './rewards/tag_count_reward.js';
export type {TagCountRewardOptions} from './rewards/tag_count_reward.js';
export {languageConsistencyReward, LANGUAGE_SCRIPTS} from './rewards/language_consistency_reward.js';
export type {LanguageConsistencyRewardOptions} from './rewards/language_consistency_reward.js';
export {overlongPenalty} from './rewards/overlong_penalty.js';
export type {OverlongPenaltyOptions} from './rewards/overlong_penalty.js';
export {lengthReward} from './rewards/length_reward.js';
export type {LengthRewardOptions} from './rewards/length_reward.js';
export {cosineLengthReward} from './rewards/cosine_length_reward.js';
export type {CosineLengthRewardOptions} from './rewards/cosine_length_reward.js';
export {repetitionPenalty} from './rewards/repetition_penalty.js';
export type {RepetitionPenaltyOptions} from './rewards/repetition_penalty.js';
export {reasoningStepsReward} from './rewards/reasoning_steps_reward.js';
export type {ReasoningStepsRewardOptions} from './rewards/reasoning_steps_reward.js';
export {named} from './rewards/named.js';
export {weighted} from './rewards/weighted.js';
export {sum} from './rewards/sum.js';
export {product} from './rewards/product.js';
export {gate} from './rewards/gate.js';
export type {GateOptions} from './rewards/gate.js';
export {clip} from './rewards/clip.js';
export {scale} from './rewards/scale.js';
export {mapReward} from './rewards/map_reward.js';
export {routeReward} from './rewards/route_reward.js';
export {scoreRewards} from './rewards/score_rewards.js';
export type {RewardComponent, RewardStats, ScoredRewards} from './rewards/score_rewards.js';

// === Models ===
export {fp8Linear} from './models/fp8_linear.js';
export type {Fp8LinearOptions} from './models/fp8_linear.js';
export {ValueHead} from './models/value_head.js';
export type {ValueHeadOptions} from './models/value_head.js';
export {RewardModel} from './models/reward_model.js';
export type {RewardModelOptions} from './models/reward_model.js';
export {charTokenizer} from './models/char_tokenizer.js';
export type {CharTokenizer, CharTokenizerOptions} from './models/char_tokenizer.js';
export {completionForward} from './models/completion_forward.js';
export type {CompletionForwardInputs} from './models/completion_forward.js';
export {encodePrompts} from './models/encode_prompts.js';
export type {EncodePromptsOptions, PromptBatch} from './models/encode_prompts.js';
export {sampleCompletions, sampleCompletionsAsync} from './models/sample_completions.js';
export type {SampleCompletionsOptions, SampledCompletions} from './models/sample_completions.js';
export type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward, Tokenizer} from './models/policy.js';
export {policyFromFunction} from './models/policy_from_function.js';
export type {FunctionPolicySpec} from './models/policy_from_function.js';
export {TransformerPolicy} from './models/transformer_policy.js';
export type {LoadedPolicy, PolicyOutput} from './models/transformer_policy.js';
export type {TransformerConfig, TransformerPolicyOptions} from './models/transformer_config.js';

// === Models: pretrained checkpoints (Llama, Qwen2, Qwen3; architecture registry) ===
export {rmsNorm} from './models/rms_norm.js';
export {applyRope, normalizeRopeConfig, ROPE_TYPES, ropeCosSin, ropeInverseFrequencies, ropeSoftmaxScaleFactor} from './models/rope.js';
export type {ApplyRopeOptions, RopeConfig, RopeCosSin, RopeFrequencies, RopeFrequencyOptions, RopeType} from './models/rope.js';
export {linear} from './models/linear.js';
export {embeddingLookup} from './models/embedding_lookup.js';
export {swigluMlp, swigluWeightsAt} from './models/swiglu_mlp.js';
export type {SwigluWeights} from './models/swiglu_mlp.js';
export {groupedQueryAttention} from './models/grouped_query_attention.js';
export type {
  AttentionWeights, GroupedQueryAttentionInputs, GroupedQueryAttentionOptions, GroupedQueryAttentionOutput,
} from './models/grouped_query_attention.js';
export {denseDecoderLayer} from './models/dense_decoder_layer.js';
export type {DenseDecoderLayerInputs, DenseDecoderLayerWeights} from './models/dense_decoder_layer.js';
export {DenseDecoderPolicy, denseDecoderWeightSpecs} from './models/dense_decoder.js';
export type {DenseDecoderConfig} from './models/dense_decoder.js';
export {llamaConfig, qwen2Config, qwen3Config} from './models/pretrained/dense_config.js';
export {architectureBuilder, ARCHITECTURES} from './models/pretrained/architectures.js';
export type {ArchitectureBuilder, ArchitectureBuildOptions} from './models/pretrained/architectures.js';
export {safetensorsCheckpoint} from './models/pretrained/checkpoint_weights.js';
export type {CheckpointWeights, SafetensorsCheckpointOptions, WeightSpec} from './models/pretrained/checkpoint_weights.js';
export {DECODABLE_DTYPES, decodeSafetensorsTensor, parseSafetensors} from './models/pretrained/safetensors.js';
export type {SafetensorsEntry, SafetensorsFile} from './models/pretrained/safetensors.js';
export {dequantizeFp8Blocks} from './models/pretrained/fp8_block_dequantize.js';
export {hfTokenizer} from './models/pretrained/hf_tokenizer.js';
export type {ChatMessage, ChatTemplateOptions, HfTokenizer, HfTokenizerOptions} from './models/pretrained/hf_tokenizer.js';
export {loadPretrained, PretrainedModel} from './models/pretrained/load_pretrained.js';
export type {LoadPretrainedOptions, PretrainedSource, PretrainedTokenizerFiles} from './models/pretrained/load_pretrained.js';
export type {JsonObject} from './models/pretrained/json.js';
export {
  MissingConfigFieldError, MissingTensorError, PretrainedLoadError, SafetensorsFormatError, ShapeMismatchError,
  UnknownArchitectureError, UnsupportedDtypeError,
} from './models/pretrained/errors.js';

// === Models: DeepSeek-V3 (MLA, DeepSeekMoE with auxiliary-loss-free balancing, MTP) ===
export {DeepseekV3Policy} from './models/deepseek_v3.js';
export type {DeepseekV3Cache, DeepseekV3CreateOptions, DeepseekV3Options} from './models/deepseek_v3.js';
export type {MtpCachedInputs} from './models/deepseek_v3_input_checks.js';
export {deepseekV3WeightShapes, resolveDeepseekV3Config} from './models/deepseek_v3_config.js';
export type {DeepseekV3Config, ResolvedDeepseekV3Config} from './models/deepseek_v3_config.js';
export {deepseekV3Block} from './models/deepseek_v3_block.js';
export type {DeepseekV3BlockOutput} from './models/deepseek_v3_block.js';
export {causalAttentionBias, mlaCacheBytesPerToken, multiHeadLatentAttention} from './models/mla.js';
export type {MlaConfig, MlaInputs, MlaLayerCache, MlaOutput} from './models/mla.js';
export {moeRoute} from './models/moe_route.js';
export type {MoeRouteOptions, MoeRouting} from './models/moe_route.js';
export {deepseekMoe} from './models/deepseek_moe.js';
export type {DeepseekMoeConfig, DeepseekMoeOutput, ExpertCompute} from './models/deepseek_moe.js';
export type {WeightGetter} from './models/weight_getter.js';
export {routerBiasUpdate} from './models/router_bias_update.js';
export type {RouterBiasUpdateOptions} from './models/router_bias_update.js';
export {sequenceBalanceLoss} from './models/sequence_balance_loss.js';
export type {SequenceBalanceLossOptions} from './models/sequence_balance_loss.js';
export {expertLoadStats} from './models/expert_load_stats.js';
export type {ExpertLoadStats} from './models/expert_load_stats.js';
export {mtpLoss, mtpModule} from './models/mtp.js';
export type {MtpModuleOutput} from './models/mtp.js';
export {mtpSpeculativeGreedy} from './models/mtp_speculative_greedy.js';
export type {MtpSpeculativeGreedyOptions, MtpSpeculativeGreedyResult} from './models/mtp_speculative_greedy.js';

// === Training ===
export {simulatePipeline} from './train/simulate_pipeline.js';
export type {
  PipelineChunk, PipelineCost, PipelineSimulation, PipelineSlot, SimulatePipelineOptions,
} from './train/simulate_pipeline.js';
export {PIPELINE_SCHEDULES} from './train/pipeline_programs.js';
export type {PipelineSchedule} from './train/pipeline_programs.js';
export {applyClippedGradients} from './train/apply_clipped_gradients.js';
export type {AppliedGradients} from './train/apply_clipped_gradients.js';
export {collectRollout, disposeRollout} from './train/collect_rollout.js';
export type {Problem, Rollout, RolloutOptions} from './train/collect_rollout.js';
export {evaluatePolicy} from './train/evaluate_policy.js';
export type {EvaluatePolicyOptions, PolicyEvaluation} from './train/evaluate_policy.js';
export {grpoStep} from './train/grpo_step.js';
export type {GrpoStepContext, GrpoStepOptions, RlStepMetrics} from './train/grpo_step.js';
export type {DynamicSamplingOptions} from './train/dynamic_sampling.js';
export {ppoStep} from './train/ppo_step.js';
export type {Critic, PpoStepContext, PpoStepMetrics, PpoStepOptions} from './train/ppo_step.js';
export {rlLoop} from './train/rl_loop.js';
export type {RlLoopOptions, StepRecord} from './train/rl_loop.js';
export {encodeSftBatch, sftBatchLoss, sftStep} from './train/sft_step.js';
export {rejectionSample} from './train/rejection_sample.js';
export type {
  AcceptedSample, CompletionSampler, RejectionAccept, RejectionFilters, RejectionPrompt, RejectionPromptStats,
  RejectionSampleOptions, RejectionSampleResult, SampledCompletion,
} from './train/rejection_sample.js';
export {policySampler} from './train/policy_sampler.js';
export {rewardModelReward, rewardModelStep} from './train/reward_model_step.js';
export type {
  PreferencePair, RewardModelRewardOptions, RewardModelStepOptions, RewardModelStepResult,
} from './train/reward_model_step.js';
export type {PolicySamplerOptions} from './train/policy_sampler.js';
export type {SftBatch, SftStepOptions, SftStepResult} from './train/sft_step.js';
