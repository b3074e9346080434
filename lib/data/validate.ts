// The checks every converted pair passes, whatever its format.
import { RowError } from './errors.js';
import { checkPromptTurns } from './conversation.js';
import type { ConvertedPair } from './formats/types.js';

/** Throws RowError with the reason when the pair cannot be trained on. */
export function validatePair(p: ConvertedPair): void {
  if (typeof p.prompt === 'string') {
    if (p.prompt.trim() === '') throw new RowError('the prompt is empty');
  } else {
    checkPromptTurns(p.prompt);
  }
  if (p.chosen.trim() === '') throw new RowError('the chosen response is empty');
  if (p.rejected.trim() === '') throw new RowError('the rejected response is empty');
  if (p.chosen === p.rejected) throw new RowError('the chosen and rejected responses are identical');
}
