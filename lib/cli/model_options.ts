// Every CLI option that names a model directory also takes a hub id, `org/name[@revision]`
// (lib/hub/resolve_model.ts). One pre-action hook swaps such values for the cached snapshot
// directory (downloading it first when needed) before the command runs. `train` resolves inside
// train() instead, so its run's config.json records the hub id as given.
import type { Command } from 'commander';
import { isHubModelSpec, resolveModel } from '../hub/resolve_model.js';

/** Option keys (commander's camelCase) whose value may be a model directory. */
const MODEL_OPTIONS = ['model', 'refModel', 'modelA', 'modelB', 'judge', 'generator'];
const RESOLVED_INSIDE = new Set(['train']);
const TOKENIZER_ONLY = new Set(['data']);

export async function resolveModelOptions(_program: Command, command: Command): Promise<void> {
  if (RESOLVED_INSIDE.has(command.name())) return;
  const opts = command.opts<Record<string, unknown>>();
  for (const key of MODEL_OPTIONS) {
    const v = opts[key];
    // Generation files (--model-a x.jsonl) and server specs (openai:URL, exact:NAME) are never hub ids.
    if (typeof v !== 'string' || /\.(jsonl?|gz)$/i.test(v) || v.includes(':') || !isHubModelSpec(v)) continue;
    // `data --model` reads only the tokenizer: the weights are neither needed nor fetched.
    // A failed download is a HubDownloadError: exit_codes.ts shows it as a usage error.
    const files = TOKENIZER_ONLY.has(command.name()) ? 'tokenizer' : 'model';
    command.setOptionValue(key, await resolveModel(v, { files }));
    // `serve` names the model after its directory; a snapshot's is a commit hash, so use the id.
    const named = command.options.some((o) => o.attributeName() === 'modelName');
    if (key === 'model' && named && opts.modelName === undefined) command.setOptionValue('modelName', v.split('@')[0]);
  }
}
