// Reading a server-sent-events answer as it arrives: each `data:` event, parsed, with a callback
// per event so a test can act (or hang up) mid-stream.
export interface SseEvent {
  data: any;
  /** `data: [DONE]`. */
  done: boolean;
}

/** Reads `res`'s events until the end (or until `onEvent` returns false, which stops reading). */
export async function readSse(res: Response, onEvent: (e: SseEvent) => boolean | undefined = () => {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = res.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.replace(/^data: /, '');
      const e: SseEvent = data === '[DONE]' ? { data: null, done: true } : { data: JSON.parse(data), done: false };
      events.push(e);
      if (onEvent(e) === false) {
        await reader.cancel();
        return events;
      }
    }
  }
  return events;
}
