import type { ItemKind } from '../jobs/job-schema.js';
import type { SignalType } from './signal-type.js';

/** The signal types a pipeline runs, by the kind of item they read. */
export class SignalRegistry {
  private readonly types = new Map<string, SignalType>();

  constructor(types: Iterable<SignalType> = []) {
    for (const type of types) this.register(type);
  }

  register(type: SignalType): this {
    if (this.types.has(type.name)) throw new Error(`signal type ${type.name} is registered twice`);
    this.types.set(type.name, type);
    return this;
  }

  forKind(kind: ItemKind): SignalType[] {
    return [...this.types.values()].filter((type) => type.accepts === kind);
  }

  all(): SignalType[] {
    return [...this.types.values()];
  }
}
