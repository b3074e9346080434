// The memory a training run needs per rank, computed before anything is loaded (`train --dry-run`,
// `rdpo-native plan`): weights, gradients, optimizer state, reference, activations and the fused
// output layer, for the chosen model, dtype, full or LoRA fine-tuning, ZeRO stage and ranks.
//
// Where the figures come from:
// - Parameters are counted from the safetensors headers (exact for every architecture).
// - Full fine-tuning keeps float32 master weights (4 B/param), float32 gradients (4) and AdamW's two
//   moments (8); under bf16 autocast every matmul weight also gets a bf16 copy for the step (2).
//   LoRA keeps the base in its checkpoint dtype with no gradient and gives only the adapters
//   (r·(in+out) per target) master weights, gradients and moments. ZeRO-1 divides the moments by
//   the number of ranks (the float32 masters are the model's own weights here, not sharded), and
//   the gradients too when each step is one micro-batch: the buckets are reduce-scattered as
//   backward fills them, and a rank then keeps its own tensors' summed gradients, plus the largest
//   tensor's local gradient while it is sent. With gradient accumulation every rank holds its
//   whole local gradient between micro-batches.
// - Activations per token and decoder layer follow what autograd keeps for backward in
//   native/core/model/architectures/llama_model.cpp (a comment on `activationBytesPerTokenLayer` lists them); with
//   gradient checkpointing only each layer's input is kept, plus one layer recomputed at a time.
// - The output layer is the fused chunked kernel: one chunk of float32 logits and its gradient at a
//   time, plus a float32 gradient of the LM head when it is trained.
// - `runtime` is the process itself (Node, LibTorch's code and allocator pools), measured, not
//   derived; on CUDA the context and allocator reserve instead.
// The plan's accuracy is checked against measured peaks in docs/memory_plan.md.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decoderShape } from '../model/flops.js';
import { elementCount, readModelTensors, SAFETENSORS_DTYPE_BYTES, type TensorEntry } from '../model/safetensors_header.js';
import { defaultBucketBytes } from './data_parallel.js';

export interface LoraPlanSettings {
  r: number;
  /** 'all-linear' (every linear layer of the decoder, not the LM head) or module names (q_proj, …) */
  targets: 'all-linear' | readonly string[];
  dropout?: number;
  /** continuing an adapter (--adapter): its own tensors, counted from its safetensors header */
  adapterParameters?: { count: number; modules: number };
}

export interface MemoryPlanSettings {
  computeDtype: 'float32' | 'bfloat16';
  /** cpu, cuda, cuda:N, mps */
  device: string;
  gradientCheckpointing: boolean;
  /** rows (tokens) of the largest micro-batch the policy forwards; a pair's prompt is counted once */
  rows: number;
  /** rows of the largest reference micro-batch (pair groups only) */
  referenceRows: number;
  /** completion tokens the output layer scores in the largest policy micro-batch (default: `rows`) */
  scoredRows?: number;
  /** the same for the reference micro-batch (default: `referenceRows`) */
  referenceScoredRows?: number;
  logitsChunk: number;
  lora?: LoraPlanSettings;
  ranks: number;
  /** 0: every rank holds the whole optimizer state; 1: AdamW moments sharded across ranks */
  zero: 0 | 1;
  /**
   * How the reference log-probs are made: 'none' (the loss needs none, or they are all cached),
   * 'separate' (a float32 reference model is loaded and unloaded before the policy),
   * 'adapters-off' (LoRA: the policy's base with its adapters switched off; no second model).
   */
  reference: 'none' | 'separate' | 'adapters-off';
  /** gradient all-reduce buckets (data-parallel), bytes each; two are in flight */
  bucketBytes?: number;
  /** micro-batches per optimiser step (default 1); ZeRO-1 shards the gradients only at 1 */
  gradAccum?: number;
}

export interface MemoryBreakdown {
  runtime: number;
  weights: number;
  computeCopies: number;
  gradients: number;
  optimizer: number;
  activations: number;
  outputLayer: number;
  communication: number;
}

/**
 * The bytes of a phase. Without LoRA or gradient checkpointing, gradients and activations are not
 * live at once: backward allocates each gradient as it frees that layer's activations, and the
 * step drops them. So the step peaks either as backward starts (every activation, the output
 * layer's chunk and the LM head's gradient, which comes first) or as it ends (every gradient).
 * With LoRA or checkpointing the trainer holds every gradient in one buffer for the whole run
 * (core/preference_trainer.cpp: hold_gradients_in_one_buffer), so they add to the activations.
 * (Under ZeRO-1 the buffer holds the rank's own tensors' gradients; `gradients` counts those plus
 * the largest tensor's local gradient in flight.)
 */
export function phaseTotal(b: MemoryBreakdown, lmHeadGradient: number, gradientsHeld = false): number {
  const fixed = b.runtime + b.weights + b.computeCopies + b.optimizer + b.communication;
  if (gradientsHeld) return fixed + b.gradients + b.activations + b.outputLayer;
  return fixed + Math.max(b.activations + b.outputLayer + lmHeadGradient, b.gradients);
}

/** Whether the trainer keeps its gradients in one buffer from the start (see phaseTotal). */
export function holdsGradients(settings: Pick<MemoryPlanSettings, 'lora' | 'gradientCheckpointing'>): boolean {
  return settings.lora !== undefined || settings.gradientCheckpointing;
}

export interface MemoryPlan {
  modelDir: string;
  settings: MemoryPlanSettings;
  parameters: { total: number; trainable: number; checkpointDtype: string };
  /** the reference phase (a separate reference model), when there is one */
  referencePhase?: MemoryBreakdown & { total: number };
  training: MemoryBreakdown & { total: number };
  /** the larger of the two phases: the bytes each rank needs */
  peakBytes: number;
  device: { kind: string; bytes: number; source: string };
  fits: boolean;
}

/** The decoder dimensions the activation estimate needs, from config.json (Llama, Gemma, GPT-2 names). */
export interface PlanShape {
  hidden: number;
  intermediate: number;
  kv: number;
  layers: number;
  vocab: number;
}

export function planShape(cfg: Record<string, unknown>, source: string): PlanShape {
  if (cfg.n_embd === undefined) {
    // Llama, Mistral, Qwen, Phi-3, Gemma: the names the FLOP count reads too
    const d = decoderShape(cfg, source);
    return { hidden: d.hiddenSize, intermediate: d.intermediateSize, kv: d.numKvHeads * d.headDim, layers: d.numLayers, vocab: d.vocabSize };
  }
  // GPT-2's names; n_inner null means 4·n_embd, and every head has its own keys and values
  const num = (key: string, fallback?: number): number => {
    const v = cfg[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`${source}: "${key}" must be a positive integer (got ${JSON.stringify(cfg[key])})`);
    return v;
  };
  const hidden = num('n_embd');
  return { hidden, intermediate: num('n_inner', 4 * hidden), kv: hidden, layers: num('n_layer'), vocab: num('vocab_size') };
}

/**
 * Bytes autograd keeps per token and decoder layer (no checkpointing), from llama_model.cpp:
 * float32: the layer input x and x1 (residuals, kept by the norms), the normed input h (kept by
 * q/k/v), q and k after rotary plus v and the attention output (kept by SDPA), its [N, heads·D]
 * copy (kept by o_proj), the second normed input h2 (kept by gate/up), and gate, silu(gate), up and
 * their product (kept by silu, mul and down): 7H + 2KV + 4I floats.
 * bf16 autocast: x and x1 stay float32 (4 B); autocast casts h once per q/k/v and h2 once per
 * gate/up (five bf16 copies of H); q, the attention output and its copy are bf16 (3·2H), k and v
 * (2·2KV), and the four MLP tensors (4·2I): 24H + 4KV + 8I bytes.
 */
export function activationBytesPerTokenLayer(s: PlanShape, dtype: 'float32' | 'bfloat16'): number {
  if (dtype === 'float32') return 4 * (7 * s.hidden + 2 * s.kv + 4 * s.intermediate);
  return 4 * 2 * s.hidden + 2 * (5 * s.hidden + 3 * s.hidden + 2 * s.kv) + 2 * 4 * s.intermediate;
}

/**
 * The training process beyond what the plan counts: Node, the addon, LibTorch/oneDNN code and pools,
 * the tokenizer and the tokenized data, allocator slack. Measured, not derived: fitted once on the
 * bench model at batch 2 (docs/memory_plan.md); every other case there is out of sample.
 */
export const CPU_RUNTIME_BYTES = 480 * 2 ** 20;
/** CUDA context, cuBLAS workspaces and the caching allocator's slack on one device. */
export const CUDA_RUNTIME_BYTES = 1024 * 2 ** 20;

// The linear layers LoRA can adapt, as native/core/model/lora/lora.cpp picks them: every 2-D ".weight" whose
// module's last name is not an embedding or the LM head.
const NOT_ADAPTED = new Set(['embed_tokens', 'wte', 'wpe', 'lm_head']);

function linearModule(t: TensorEntry): string | undefined {
  if (t.shape.length !== 2 || !t.name.endsWith('.weight')) return undefined;
  const module = t.name.slice(0, -'.weight'.length);
  return NOT_ADAPTED.has(module.slice(module.lastIndexOf('.') + 1)) ? undefined : module;
}

/** The adapter parameters LoRA adds: r·(in + out) for every targeted linear layer. */
export function loraParameterCount(tensors: readonly TensorEntry[], lora: LoraPlanSettings): { count: number; modules: number } {
  if (lora.adapterParameters) return lora.adapterParameters;
  // A target names a module by its full path or by its trailing components (q_proj, self_attn.q_proj), as in the trainer.
  const targets = lora.targets === 'all-linear' ? undefined : lora.targets;
  let count = 0;
  let modules = 0;
  for (const t of tensors) {
    const module = linearModule(t);
    if (module === undefined) continue;
    if (targets && !targets.some((x) => module === x || module.endsWith(`.${x}`))) continue;
    count += lora.r * (t.shape[0]! + t.shape[1]!);
    modules++;
  }
  if (modules === 0)
    throw new Error(`LoRA targets ${JSON.stringify(lora.targets)} match no linear layer of the model; use module names such as q_proj,v_proj or all-linear`);
  return { count, modules };
}

function deviceCapacity(device: string, cudaDevices?: ReadonlyArray<{ index: number; totalMemory: number }>): MemoryPlan['device'] {
  if (device.startsWith('cuda')) {
    const index = device.includes(':') ? Number(device.split(':')[1]) : 0;
    const d = cudaDevices?.find((x) => x.index === index);
    if (d) return { kind: device, bytes: d.totalMemory, source: 'the device' };
    return { kind: device, bytes: NaN, source: 'unknown (no CUDA device visible here)' };
  }
  return { kind: device, bytes: os.totalmem(), source: "this machine's RAM" };
}

export function planMemory(modelDir: string, settings: MemoryPlanSettings, cudaDevices?: ReadonlyArray<{ index: number; totalMemory: number }>): MemoryPlan {
  const tensors = readModelTensors(modelDir);
  const configFile = path.join(modelDir, 'config.json');
  let configJson: Record<string, unknown>;
  try {
    configJson = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${configFile}: cannot read the model config (${(err as Error).message}); --model must be a Hugging Face model directory`);
  }
  const shape = planShape(configJson, configFile);
  const total = tensors.reduce((a, t) => a + elementCount(t.shape), 0);
  const dtypes = new Map<string, number>();
  for (const t of tensors) dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + elementCount(t.shape));
  const checkpointDtype = [...dtypes.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const checkpointBytes = SAFETENSORS_DTYPE_BYTES[checkpointDtype] ?? 4;
  const matmulElements = tensors.filter((t) => t.shape.length === 2).reduce((a, t) => a + elementCount(t.shape), 0);
  const lowPrecision = settings.computeDtype !== 'float32';
  const cuda = settings.device.startsWith('cuda');
  const tokens = Math.max(1, settings.rows);

  const lora = settings.lora ? loraParameterCount(tensors, settings.lora) : undefined;
  const trainable = lora ? lora.count : total;
  const optimizerShards = settings.zero === 1 ? settings.ranks : 1;

  const perLayer = activationBytesPerTokenLayer(shape, settings.computeDtype);
  // LoRA's own activations: x·Aᵀ (r floats) per target, and a dropped copy of the input when dropout is on.
  const loraPerToken = lora ? lora.modules * (4 * settings.lora!.r + (settings.lora!.dropout ? 4 * shape.hidden : 0)) : 0;
  const kept = settings.gradientCheckpointing
    ? shape.layers * 4 * shape.hidden + 2 * perLayer // each layer's input, plus one layer recomputed and its gradients
    : shape.layers * perLayer + perLayer; // every layer's tensors, plus the gradients in flight for one layer
  const activations = tokens * (kept + loraPerToken + 4 * shape.hidden * 2); // + embedding output and final norm

  // The fused output layer works on the scored rows only, a chunk of them at a time.
  const chunk = Math.min(settings.logitsChunk, Math.max(1, settings.scoredRows ?? tokens));
  const lmHeadTrained = !lora;
  const outputLayer = 2 * chunk * shape.vocab * 4;
  const lmHeadGradient = lmHeadTrained ? shape.vocab * shape.hidden * 4 : 0;
  const runtime = cuda ? CUDA_RUNTIME_BYTES : CPU_RUNTIME_BYTES;
  // The native default (the addon says) only when data-parallel and no size was given.
  const bucket = settings.ranks <= 1 ? 0 : (settings.bucketBytes ?? defaultBucketBytes());
  const zero1 = settings.ranks > 1 && settings.zero === 1;
  // All-reduce: two buckets' flat copies in flight. ZeRO-1's reduce-scatter (native/core/distributed/
  // reduce_scatter_sync.cpp) runs in pieces of at most about a bucket each way (send, and the receive
  // buffer of every rank's copy of this rank's part), four pieces in flight.
  const communication = settings.ranks <= 1 ? 0 : zero1 ? 8 * bucket : 2 * bucket;
  // ZeRO-1, one micro-batch per step: a rank ends backward with its own tensors' summed gradients,
  // plus the local gradient of the tensor that arrived last while its pieces are sent (at worst the
  // largest; the embedding comes last in backward).
  const shardGradients = zero1 && (settings.gradAccum ?? 1) === 1;
  const largestTrained = lora ? 0 : Math.max(0, ...tensors.map((t) => elementCount(t.shape) * 4));

  const training: MemoryBreakdown = {
    runtime,
    weights: lora ? total * checkpointBytes + trainable * 4 : total * 4,
    // autocast's bf16 copy of each matmul weight for the step (a bf16 LoRA base needs none)
    // (kept for backward; a frozen float32 base is cast per call, and each cast is kept too)
    computeCopies: lowPrecision && !(lora && checkpointBytes === 2) ? matmulElements * 2 : 0,
    gradients: shardGradients ? Math.min(trainable * 4, (trainable * 4) / settings.ranks + largestTrained) : trainable * 4,
    optimizer: (trainable * 8) / optimizerShards,
    activations,
    outputLayer,
    communication,
  };
  let referencePhase: (MemoryBreakdown & { total: number }) | undefined;
  if (settings.reference === 'separate') {
    const refTokens = Math.max(1, settings.referenceRows);
    const b: MemoryBreakdown = {
      runtime,
      weights: total * 4,
      computeCopies: lowPrecision ? matmulElements * 2 : 0,
      gradients: 0,
      optimizer: 0,
      // no autograd: one layer's tensors live at a time
      activations: refTokens * (perLayer + 4 * shape.hidden * 2),
      outputLayer: Math.min(settings.logitsChunk, Math.max(1, settings.referenceScoredRows ?? refTokens)) * shape.vocab * 4 * 2,
      communication: 0,
    };
    referencePhase = { ...b, total: phaseTotal(b, 0) };
  }
  const trainingTotal = phaseTotal(training, lmHeadGradient, holdsGradients(settings));
  const peakBytes = Math.max(trainingTotal, referencePhase?.total ?? 0);
  const device = deviceCapacity(settings.device, cudaDevices);
  return {
    modelDir,
    settings,
    parameters: { total, trainable, checkpointDtype },
    ...(referencePhase ? { referencePhase } : {}),
    training: { ...training, total: trainingTotal },
    peakBytes,
    device,
    fits: Number.isFinite(device.bytes) ? peakBytes <= device.bytes : false,
  };
}

const GIB = 2 ** 30;
function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** The plan as the table `train --dry-run` and `plan` print. */
export function formatMemoryPlan(p: MemoryPlan): string {
  const s = p.settings;
  const mode = s.lora ? `LoRA r=${s.lora.r} (${s.lora.targets === 'all-linear' ? 'all-linear' : s.lora.targets.join(',')})` : 'full fine-tuning';
  const lines = [
    `memory plan for ${p.modelDir}`,
    `  ${mode}, ${s.computeDtype} compute on ${s.device}, ${s.ranks} rank(s)${s.ranks > 1 ? `, ZeRO-${s.zero}` : ''}${s.gradientCheckpointing ? ', gradient checkpointing' : ''}`,
    `  parameters: ${p.parameters.total.toLocaleString('en-US')} (${p.parameters.checkpointDtype} checkpoint), trainable ${p.parameters.trainable.toLocaleString('en-US')}`,
    `  largest micro-batch: ${s.rows} rows (tokens) through the policy${s.reference === 'separate' ? `, ${s.referenceRows} through the reference` : ''}`,
    '',
    `  per rank                 ${p.referencePhase ? 'reference phase   ' : ''}training`,
  ];
  const keys: Array<[keyof MemoryBreakdown, string]> = [
    ['runtime', 'runtime (process)'],
    ['weights', 'weights'],
    ['computeCopies', 'bf16 compute copies'],
    ['gradients', 'gradients'],
    ['optimizer', 'optimizer state'],
    ['activations', 'activations'],
    ['outputLayer', 'output layer (fused)'],
    ['communication', s.ranks > 1 && s.zero === 1 ? 'reduce-scatter buffers' : 'all-reduce buckets'],
  ];
  for (const [k, label] of keys) {
    const ref = p.referencePhase ? gib(p.referencePhase[k]).padStart(12) + '      ' : '';
    lines.push(`  ${label.padEnd(24)} ${ref}${gib(p.training[k]).padStart(12)}`);
  }
  lines.push(
    `  ${'phase peak'.padEnd(24)} ${p.referencePhase ? gib(p.referencePhase.total).padStart(12) + '      ' : ''}${gib(p.training.total).padStart(12)}`,
  );
  lines.push(
    holdsGradients(s)
      ? '  (gradients are held in one buffer for the whole run under LoRA or gradient checkpointing: they add to the activations)'
      : '  (a phase peaks with all activations or with all gradients, never both: backward frees the one as the other arrives)',
  );
  lines.push('');
  const cap = Number.isFinite(p.device.bytes) ? gib(p.device.bytes) : 'unknown';
  lines.push(
    `  peak per rank: ${gib(p.peakBytes)}; ${p.device.source}: ${cap} → ${p.fits ? 'fits' : Number.isFinite(p.device.bytes) ? 'DOES NOT FIT' : 'cannot tell'}`,
  );
  if (!p.fits && Number.isFinite(p.device.bytes)) {
    const hints = [];
    if (!s.gradientCheckpointing) hints.push('--gradient-checkpointing');
    if (!s.lora) hints.push('--lora-r 16');
    hints.push('a smaller --batch-size or --max-length');
    if (s.ranks > 1 && s.zero === 0) hints.push('ZeRO-1');
    lines.push(`  to fit: ${hints.join(', ')}`);
  }
  return lines.join('\n');
}
