// A rationale row: a preference pair with the rationale `rdpo-native rationales` wrote for it. The
// one definition: `rationales` writes it, `rationales filter` reads it, training conditions on it.
import { z } from 'zod';
import { PreferencePairSchema } from './schema.js';

/** A row written by `rationales` (extra keys, the judge's scores say, are kept as they are). */
export const RationaleRowSchema = PreferencePairSchema.extend({
  rationale: z.string().min(1),
  rationale_style: z.string(),
  /** The model that wrote the rationale. */
  rationale_model: z.string().optional(),
  /** Set when the rationale was cut to the token budget. */
  rationale_note: z.string().optional(),
}).loose();
export type RationaleRow = z.infer<typeof RationaleRowSchema>;

/** The fields of a rationale row that conditioning on it reads (tokenize/rationale_conditioning.ts). */
export type RationaleText = Pick<RationaleRow, 'prompt' | 'chosen' | 'rejected' | 'rationale' | 'system'>;
