// Anthropic HH-RLHF: `chosen`/`rejected` are whole transcripts "\n\nHuman: … \n\nAssistant: …".
// The prompt is the dialogue both share up to the last "\n\nAssistant:", turned into messages;
// the completions are what follows that marker.
import type { ChatMessage } from '../schema.js';
import { text } from '../fields.js';
import { RowError } from '../errors.js';
import type { FormatSpec } from './types.js';

const ASSISTANT = '\n\nAssistant:';
const TURN = /\n\n(Human|Assistant):/g;

function splitTranscript(transcript: string, key: string): { dialogue: string; answer: string } {
  const t = /^(Human|Assistant):/.test(transcript) ? `\n\n${transcript}` : transcript;
  const at = t.lastIndexOf(ASSISTANT);
  if (at < 0) throw new RowError(`\`${key}\` has no "\\n\\nAssistant:" turn`);
  return { dialogue: t.slice(0, at), answer: t.slice(at + ASSISTANT.length).trim() };
}

/** "\n\nHuman: a\n\nAssistant: b\n\nHuman: c" → user a, assistant b, user c. */
export function parseDialogue(dialogue: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const markers = [...dialogue.matchAll(TURN)];
  const lead = dialogue.slice(0, markers[0]?.index ?? dialogue.length);
  if (lead.trim() !== '') throw new RowError('the transcript does not start with "\\n\\nHuman:"');
  markers.forEach((m, i) => {
    const start = m.index + m[0].length;
    const end = markers[i + 1]?.index ?? dialogue.length;
    messages.push({ role: m[1] === 'Human' ? 'user' : 'assistant', content: dialogue.slice(start, end).trim() });
  });
  return messages;
}

export const hhRlhf: FormatSpec = {
  name: 'hh-rlhf',
  keys: 'chosen, rejected (whole "\\n\\nHuman: … \\n\\nAssistant: …" transcripts)',
  convert(row) {
    const chosen = splitTranscript(text(row, 'chosen'), 'chosen');
    const rejected = splitTranscript(text(row, 'rejected'), 'rejected');
    if (chosen.dialogue !== rejected.dialogue) {
      throw new RowError('the `chosen` and `rejected` transcripts differ before their last "\\n\\nAssistant:"; they must share the dialogue');
    }
    return { kind: 'pair', prompt: parseDialogue(chosen.dialogue), chosen: chosen.answer, rejected: rejected.answer, meta: {} };
  },
};
