// The text of a streamed answer, sent piece by piece as it grows. Each group of new tokens is
// decoded with everything before it (a token alone may be part of a character); what is sent holds
// back a trailing U+FFFD (a character whose remaining bytes come with the next tokens) and any end
// that could begin a stop string, so the pieces add up to exactly the text the whole answer has.

/** The part of `text` that can be sent now, given the stop strings still to be looked for. */
export function sendablePrefix(text: string, stops: readonly string[]): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0xfffd) end--;
  const kept = text.slice(0, end);
  let hold = 0;
  for (const stop of stops) {
    for (let k = Math.min(stop.length - 1, kept.length); k > hold; k--) {
      if (kept.endsWith(stop.slice(0, k))) {
        hold = k;
        break;
      }
    }
  }
  return kept.slice(0, kept.length - hold);
}

export class TextDeltas {
  private sent = '';

  /** The new part of a longer sendable text ('' when it does not extend what was sent). */
  next(sendable: string): string {
    if (sendable.length <= this.sent.length || !sendable.startsWith(this.sent)) return '';
    const delta = sendable.slice(this.sent.length);
    this.sent = sendable;
    return delta;
  }

  /**
   * The rest of the final text. A tokenizer whose decoding of a prefix is not a prefix of the whole
   * (none known) would make the streamed pieces differ from the final text; what was sent stands.
   */
  finish(text: string): string {
    const delta = text.startsWith(this.sent) ? text.slice(this.sent.length) : '';
    this.sent = text;
    return delta;
  }
}
