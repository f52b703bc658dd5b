/**
 * tfjs-grpo: reinforcement-learning post-training of language models (GRPO, PPO, rule-based rewards)
 * as pure TensorFlow.js tensor functions.
 * @module
 */

// --- validation ---
export {configureValidation} from './math/assert.js';
export type {ValidationConfig} from './math/assert.js';

// --- math: advantages and masked statistics ---
export {groupAdvantages} from './math/group_advantages.js';
export type {GroupAdvantagesOptions} from './math/group_advantages.js';
export {rlooAdvantages} from './math/rloo_advantages.js';
export type {RlooAdvantagesOptions} from './math/rloo_advantages.js';
export type {GroupOptions} from './math/group_index.js';
export {maskedSum, maskedMean, maskedVariance, whiten} from './math/masked_stats.js';
export type {MaskedReduceOptions, MaskedVarianceOptions, WhitenOptions} from './math/masked_stats.js';

// --- math: KL, policy loss, aggregation, grpoLoss ---
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

// --- math: log-probs and entropy ---
export {tokenLogProbs} from './math/token_log_probs.js';
export type {TokenLogProbsOptions} from './math/token_log_probs.js';
export {entropyFromLogits} from './math/entropy_from_logits.js';
export type {EntropyFromLogitsOptions} from './math/entropy_from_logits.js';
export {linearTokenLogProbs} from './math/linear_token_log_probs.js';
export type {LinearTokenLogProbsOptions} from './math/linear_token_log_probs.js';

// --- math: PPO (GAE, value loss, ppoLoss) ---
export {gae} from './math/gae.js';
export type {GaeInputs, GaeOptions, GaeResult} from './math/gae.js';
export {klShapedRewards} from './math/kl_reward_shaping.js';
export type {KlShapedRewardsInputs, KlShapedRewardsOptions} from './math/kl_reward_shaping.js';
export {explainedVariance} from './math/explained_variance.js';
export {valueLoss} from './math/value_loss.js';
export type {ValueLossInputs, ValueLossOptions} from './math/value_loss.js';
export {ppoLoss} from './math/ppo_loss.js';
export type {PpoLossInputs, PpoLossOptions, PpoLossResult, PpoLossStats} from './math/ppo_loss.js';

// --- kernels (fused paths) ---
export {fusedGrpoLossAvailable} from './math/fused/grpo_loss_fused.js';
export type {GrpoLossImplementation} from './math/fused/grpo_loss_fused.js';

// --- rewards ---
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
export {scoreRewards} from './rewards/score_rewards.js';
export type {RewardComponent, RewardStats, ScoredRewards} from './rewards/score_rewards.js';

// --- models ---
export {ValueHead} from './models/value_head.js';
export type {ValueHeadOptions} from './models/value_head.js';
export {charTokenizer} from './models/char_tokenizer.js';
export type {CharTokenizer, CharTokenizerOptions} from './models/char_tokenizer.js';
export {completionForward} from './models/completion_forward.js';
export type {CompletionForwardInputs} from './models/completion_forward.js';
export {encodePrompts} from './models/encode_prompts.js';
export type {EncodePromptsOptions, PromptBatch} from './models/encode_prompts.js';
export {sampleCompletions} from './models/sample_completions.js';
export type {SampleCompletionsOptions, SampledCompletions} from './models/sample_completions.js';
export type {Policy, PolicyApplyOptions, PolicyCachedInputs, PolicyCachedOutput, PolicyForward, Tokenizer} from './models/policy.js';
export {policyFromFunction} from './models/policy_from_function.js';
export type {FunctionPolicySpec} from './models/policy_from_function.js';
export {disposeKvCache, TransformerPolicy} from './models/transformer_policy.js';
export type {
  ApplyOptions, CachedStepInputs, CachedStepOutput, KvCache, LoadedPolicy, PolicyOutput, TransformerConfig,
  TransformerPolicyOptions,
} from './models/transformer_policy.js';

// --- train ---
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
export type {SftBatch, SftStepOptions, SftStepResult} from './train/sft_step.js';
