import type { ItemKind } from '../jobs/job-schema.js';
import type { SignalType } from './signal-type.js';

/** The signal types a pipeline runs, by the kind of item they read. */
export class SignalRegistry {
  private readonly types = new Map<string, SignalType>();
  /** forKind runs for every item of every job: its answer is kept until the next register. */
  private readonly byKind = new Map<ItemKind, readonly SignalType[]>();

  constructor(types: Iterable<SignalType> = []) {
    for (const type of types) this.register(type);
  }

  register(type: SignalType): this {
    if (this.types.has(type.name)) throw new Error(`signal type ${type.name} is registered twice`);
    this.types.set(type.name, type);
    this.byKind.clear();
    return this;
  }

  forKind(kind: ItemKind): readonly SignalType[] {
    let types = this.byKind.get(kind);
    if (!types) {
      types = [...this.types.values()].filter((type) => type.accepts === kind);
      this.byKind.set(kind, types);
    }
    return types;
  }

  all(): SignalType[] {
    return [...this.types.values()];
  }
}
