// Which end of an over-long prompt survives, per dataset, as the RDPO authors' data loaders set it
// (reds-lab/preference-learning-with-rationales, dataloader.py): single-turn sets with long prompts
// (Orca, UltraFeedback, the Orca rationale sets, SHP) keep their start; dialogues (HH-RLHF, OASST)
// keep their end, the turns nearest the answer (HALOs' and TRL's default).
import type { PreferenceFormat } from './formats/types.js';

export type TruncationMode = 'keep_start' | 'keep_end';
export type TruncationSetting = TruncationMode | 'auto';

const KEEP_START: ReadonlySet<string> = new Set<PreferenceFormat>(['orca', 'ultrafeedback', 'rationale-set']);

export function truncationModeFor(setting: TruncationSetting, format: string | undefined): TruncationMode {
  if (setting !== 'auto') return setting;
  return format !== undefined && KEEP_START.has(format) ? 'keep_start' : 'keep_end';
}
