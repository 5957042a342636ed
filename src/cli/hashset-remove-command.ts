import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';

export function registerHashSetRemoveCommand(hashset: Command): void {
  hashset
    .command('remove')
    .argument('<name>', 'hash set')
    .argument('<id...>', 'entry ids')
    .description('delete entries (workers stop matching them within a second)')
    .action((name: string, ids: string[]) =>
      withHashSetStore(async (store) => {
        const { version, removed } = await store.remove(name, ids);
        process.stdout.write(`removed ${removed} of ${ids.length}; ${name} at version ${version}\n`);
        if (removed < ids.length) process.exitCode = 2;
      }),
    );
}
