import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/**
 * Deletes entries, each id once however often it is given. As `release` does, an id that is not in
 * the set is named on stderr and the exit code is 2; the others are removed all the same.
 */
export function registerHashSetRemoveCommand(hashset: Command): void {
  hashset
    .command('remove')
    .argument('<name>', 'hash set')
    .argument('<id...>', 'entry ids')
    .description('delete entries (workers stop matching them within a second; exit 2 when an id is unknown)')
    .action((name: string, given: string[]) =>
      withHashSetStore(async (store) => {
        const ids = [...new Set(given)];
        // Read just before the removal: an id added or removed in between is the rare exception.
        const present = await store.info(name, ids);
        const { version, removed } = await store.remove(name, ids);
        process.stdout.write(`removed ${removed} of ${ids.length}; ${terminalSafe(name)} at version ${version}\n`);
        if (removed === ids.length) return;
        const unknown = ids.filter((_, i) => present[i] === undefined);
        if (unknown.length) process.stderr.write(`not removed (unknown): ${unknown.map(terminalSafe).join(', ')}\n`);
        process.exitCode = 2;
      }),
    );
}
