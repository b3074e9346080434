// The formats by name, and recognising one from the keys of a file's first rows.
import { PreferenceDataError } from '../errors.js';
import { isRow, type Row } from '../fields.js';
import { generic } from './generic.js';
import { hhRlhf } from './hh_rlhf.js';
import { openai } from './openai.js';
import { orca } from './orca.js';
import { pandalm } from './pandalm.js';
import { rationaleSet } from './rationale_set.js';
import { sharegpt } from './sharegpt.js';
import { PREFERENCE_FORMATS, type FormatSpec, type PreferenceFormat } from './types.js';
import { ultrafeedback } from './ultrafeedback.js';

export const FORMATS: Record<PreferenceFormat, FormatSpec> = {
  orca,
  ultrafeedback,
  'hh-rlhf': hhRlhf,
  'rationale-set': rationaleSet,
  openai,
  sharegpt,
  pandalm,
  generic,
};

export function isPreferenceFormat(name: string): name is PreferenceFormat {
  return (PREFERENCE_FORMATS as readonly string[]).includes(name);
}

/** How many leading rows detection looks at. */
export const DETECT_ROWS = 20;

/**
 * The format of a file from its first rows (objects; others are ignored). Throws
 * PreferenceDataError naming the keys it saw when no format fits.
 */
export function detectFormat(rows: readonly unknown[]): PreferenceFormat {
  const sample = rows.filter(isRow).slice(0, DETECT_ROWS);
  if (sample.length === 0) throw new PreferenceDataError('no rows that are JSON objects to recognise the format from');
  const keys = new Set(sample.flatMap((r) => Object.keys(r)));
  const has = (...ks: string[]) => ks.every((k) => keys.has(k));
  const all = (test: (r: Row) => boolean) => sample.every(test);
  const str = (k: string) => (r: Row) => typeof r[k] === 'string';

  if (has('preferred_output', 'non_preferred_output')) return 'openai';
  if (has('conversations', 'chosen', 'rejected')) return 'sharegpt';
  if (has('response1', 'response2')) return 'pandalm';
  if (has('gpt_reason') || has('gpt_result')) {
    throw new PreferenceDataError(
      'this looks like a PandaLM judge file (`idx`, `gpt_result`, `gpt_reason`): it holds rationales, not pairs. ' +
        'Load the PandaLM test set and pass this file as --rationales-from (rationalesFrom)',
    );
  }
  if (has('question', 'chosen', 'rejected')) return 'orca';
  if (has('chosen', 'rejected')) {
    if (has('prompt')) {
      if (has('score_chosen') || has('score_rejected') || (has('prompt_id') && all((r) => Array.isArray(r.chosen)))) return 'ultrafeedback';
      if (has('rationale') && all(str('prompt')) && all(str('chosen')) && all(str('rejected')) && all(str('rationale'))) return 'rationale-set';
      return 'generic';
    }
    const transcript = (r: Row) => typeof r.chosen === 'string' && r.chosen.includes('Assistant:') && /^(\n\n)?Human:/.test(r.chosen);
    if (all(transcript)) return 'hh-rlhf';
    if (all((r) => Array.isArray(r.chosen))) return 'generic';
    throw new PreferenceDataError(
      'rows have `chosen` and `rejected` but no `prompt`, and are neither HH-RLHF transcripts ("\\n\\nHuman: … \\n\\nAssistant: …") ' +
        'nor whole conversations (message lists); add a `prompt` key',
    );
  }
  if (has('instruction', 'output')) {
    throw new PreferenceDataError(
      'this looks like instruction (SFT) data (`instruction`, `input`, `output`), not preference pairs: it has no chosen/rejected responses',
    );
  }
  if (has('turns') && has('question_id')) {
    throw new PreferenceDataError('this looks like a list of evaluation prompts (`question_id`, `turns`), not preference pairs');
  }
  const seen = [...keys]
    .slice(0, 12)
    .map((k) => `\`${k}\``)
    .join(', ');
  throw new PreferenceDataError(
    `no preference format has the keys ${seen}. Expected one of: ` +
      Object.values(FORMATS)
        .map((f) => `${f.name} (${f.keys})`)
        .join('; '),
  );
}

export { PREFERENCE_FORMATS, type PreferenceFormat, type FormatSpec } from './types.js';
