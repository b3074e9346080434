// A ChatGenerator over a local model: concurrent requests are batched by the ChatEngine.
import type { ChatMessage } from '../data/schema.js';
import { type ChatEngine, EngineAbortedError } from '../serve/chat_engine.js';
import type { ChatGenerator, Completion, SamplingOptions } from './generator.js';
import { GeneratorError } from './retry.js';

export class LocalGenerator implements ChatGenerator {
  constructor(private readonly engine: ChatEngine) {}

  get model(): string {
    return this.engine.model.id;
  }

  async complete(messages: ChatMessage[], options: SamplingOptions): Promise<Completion> {
    try {
      const { signal, ...sampling } = options;
      // A seeded request runs alone (as serve does it), so its text does not depend on what it is batched with.
      const reproducible = sampling.seed !== undefined ? { reproducible: true } : {};
      return await this.engine.complete({ messages, ...sampling, ...reproducible }, signal);
    } catch (err) {
      if (err instanceof EngineAbortedError) throw new GeneratorError('aborted', false, { aborted: true });
      // A local failure (prompt too long, out of memory) would fail the same way again.
      throw new GeneratorError(err instanceof Error ? err.message : String(err), false);
    }
  }

  close(): Promise<void> {
    return this.engine.close();
  }
}
