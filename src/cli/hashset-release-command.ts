import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';

/** Lifts the flood guard's quarantine: the entries' matches suggest the set's action again. */
export function registerHashSetReleaseCommand(hashset: Command): void {
  hashset
    .command('release')
    .argument('<name>', 'hash set')
    .argument('<id...>', 'quarantined entry ids')
    .description('release entries from flood quarantine')
    .action((name: string, ids: string[]) =>
      withHashSetStore(async (store) => {
        await store.summary(name);
        const released = await store.release(name, ids);
        process.stdout.write(`released ${released} of ${ids.length} from quarantine in ${name}\n`);
      }),
    );
}
