// What a format module provides: how to recognise its rows and how to convert one.
import type { ChatMessage } from '../schema.js';
import type { Row } from '../fields.js';

export const PREFERENCE_FORMATS = ['orca', 'ultrafeedback', 'hh-rlhf', 'rationale-set', 'openai', 'sharegpt', 'pandalm', 'generic'] as const;
export type PreferenceFormat = (typeof PREFERENCE_FORMATS)[number];

/** A row converted to the pair's fields; the loader validates it, gives it an id and de-duplicates. */
export interface ConvertedPair {
  kind: 'pair';
  prompt: string | ChatMessage[];
  chosen: string;
  rejected: string;
  rationale?: string;
  system?: string;
  sourceId?: string;
  /** Both sides were rated equal but the source still names a chosen one (UltraFeedback). */
  tie?: boolean;
  meta: Record<string, unknown>;
}

/** A row whose raters preferred neither side, so it has no chosen response (PandaLM). */
export interface DroppedTie {
  kind: 'tie';
}

/** A judge's verdict joined to PandaLM rows by `idx` (`--rationales-from`). */
export interface JudgeVerdict {
  result: string;
  reason: string;
}

export interface ConvertContext {
  rationales?: ReadonlyMap<string, JudgeVerdict>;
}

export interface FormatSpec {
  name: PreferenceFormat;
  /** The keys a row of this format has, for messages. */
  keys: string;
  convert(row: Row, ctx: ConvertContext): ConvertedPair | DroppedTie;
}
