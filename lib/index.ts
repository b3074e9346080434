// Public programmatic API.
export { loadNative, NativeLoadError, addonPath } from './native/load.js';
export { doctorReport, packageVersion, type DoctorReport, type DeviceInfo } from './native/runtime.js';
export type { NativeBinding, NativeTensor, NativeDtype, NativeTypedArray } from './native/binding.js';
export { loadPreferences, type DataFiles, type LoadOptions, type LoadReport } from './data/load.js';
export { detectFormat, PREFERENCE_FORMATS, type PreferenceFormat } from './data/formats/index.js';
export { selectSubset, splitEval, type SubsetOptions, type EvalSplitOptions } from './data/subset.js';
export { PreferenceDataError } from './data/errors.js';
export { PreferencePairSchema, ChatMessageSchema, formatOrigin, type PreferencePair, type ChatMessage, type RowOrigin } from './data/schema.js';
export { loadTokenCounter, tokenLengthReport, type TokenCounter, type TokenLengthReport, type LengthStats } from './data/token_lengths.js';
export {
  CausalLM,
  type LoadOptions as ModelLoadOptions,
  type GenerateOptions,
  type SequenceLogprobs,
  type ModelDtype,
  type ModelConfig,
} from './model/causal_lm.js';
export { packSequences, packPlainSequences, type PackedBatch, type PromptGroup } from './model/packing.js';
export { attachLora, loadAdapter, loadModelWithAdapter, saveAdapter, mergeAdapter, parseLoraTargets, type LoraOptions, type LoraInfo } from './model/lora.js';
export { Tokenizer, TokenizerLoadError, type EncodeOptions, type DecodeOptions, type SpecialTokens } from './tokenize/tokenizer.js';
export {
  renderChat,
  renderTemplate,
  renderPlainChat,
  applyChatTemplate,
  ChatTemplateError,
  type ChatTurn,
  type RenderChatOptions,
} from './tokenize/chat_template.js';
export {
  tokenizePreferences,
  tokenizePreferenceRow,
  truncatePair,
  type TokenizedPair,
  type PreferenceRow,
  type PreferenceTokenizeOptions,
  type PreferenceTokenizeStats,
} from './tokenize/preference_tokens.js';
export { tokenizeRationales, tokenizeRationaleRow, rationaleQuestion, type TokenizedRationale } from './tokenize/rationale_conditioning.js';
export { RationaleRowSchema, type RationaleRow, type RationaleText, type RationaleRow as GeneratedRationaleRow } from './data/rationale_row.js';
export { importGguf, type ImportGgufOptions, type ImportGgufReport } from './gguf/import_gguf.js';
export { readGguf, GgufFormatError, type GgufFile, type GgufTensorInfo, type GgufValue } from './gguf/reader.js';
export { resolveModel, type ResolveModelOptions } from './hub/resolve_model.js';
export { parseHubModelId, hubCacheDir, type HubModelId } from './hub/hf_cache.js';
export { HubDownloadError } from './hub/download_model.js';
export {
  generateRationales,
  type GenerateOptions as RationaleGenerateOptions,
  type GenerateSummary,
} from './rationales/generate.js';
export { filterRationales, type FilterOptions, type FilterSummary } from './rationales/filter.js';
export { builtinTemplate, loadTemplate, rationaleRequest, RATIONALE_STYLES, type RationaleStyle, type RationaleTemplate } from './rationales/prompts.js';
export { parseScores, keepRationale, SCORE_NAMES, type RationaleScores } from './rationales/judge.js';
export { openGenerator } from './llm/connect.js';
export { OpenAIGenerator, type OpenAIGeneratorOptions } from './llm/openai_generator.js';
export type { ChatGenerator, Completion, SamplingOptions } from './llm/generator.js';
export { DEFAULT_RETRY, GeneratorError, withRetry, type RetryPolicy } from './llm/retry.js';
export { TextGenerator, NoEosTokenError, type SamplingSettings, type TextRequest, type GeneratedText } from './inference/text_generator.js';
export { generateRows, generationKey, promptSeed, type GenerationPrompt, type GenerationRow, type IndexedPrompt } from './inference/generation.js';
export { pairLogprobs, type PairLogprobs } from './inference/pair_logprobs.js';
export { ChatEngine, type TextModel, type EngineRequest, type EngineResult } from './serve/chat_engine.js';
export { startServer, type ServeOptions, type RunningServer } from './serve/server.js';
export { train, resolvedRunConfig, type TrainHooks, type TrainResult } from './train/trainer.js';
export { planTraining, type PlanOptions } from './train/plan.js';
export { TrainingRun, type StepReport } from './train/training_run.js';
export { openTrainingRun } from './train/training_run_setup.js';
export { PRESETS, PAPER_PRESET, applyPreset, type PresetName } from './train/presets.js';
export {
  PROMPT_FORMATS,
  resolvePromptFormat,
  encodePrompt,
  promptFormatFor,
  recordedPromptFormat,
  type PromptFormat,
  type PromptFormatSetting,
} from './tokenize/prompt_format.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/run_demo.js';
export type { DemoSummary } from './demo/demo_summary.js';
export { resolveTrainConfig, readConfigFile, TrainConfigSchema, LOSSES, type TrainConfig, type TrainConfigInput, type LossName } from './train/config.js';
export type { MetricsRow } from './train/metrics.js';
export {
  earlyStopping,
  stopTraining,
  type EarlyStopping,
  type EarlyStoppingOptions,
  type StopTraining,
  type TrainCallbacks,
  type TrainContext,
  type CallbackResult,
} from './train/callbacks.js';
export { REPORT_TO, type ReportBackend } from './train/report_to.js';
export { modelCard, reproduceCommand } from './train/model_card.js';
export { writeRunReport, type RunReport } from './report/run_report.js';
export { resolveDataset, type ResolvedDataset } from './hub/resolve_dataset.js';
export { parseHubDatasetSpec, type HubDatasetSpec } from './hub/dataset_spec.js';
