import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/** `disable` keeps an entry (and why) but stops it matching; `enable` undoes it. */
export function registerHashSetDisableCommands(hashset: Command): void {
  hashset
    .command('disable')
    .argument('<name>', 'hash set')
    .argument('<id>', 'entry id')
    .requiredOption('--reason <reason>', 'why (recorded with the entry)')
    .description('stop an entry matching, keeping it and the reason')
    .action((name: string, id: string, flags: { reason: string }) =>
      withHashSetStore(async (store) => {
        const { version, changed } = await store.disable(name, id, flags.reason);
        process.stdout.write(changed ? `disabled ${terminalSafe(id)}; ${name} at version ${version}\n` : `${terminalSafe(id)} is unknown or already disabled\n`);
        if (!changed) process.exitCode = 2;
      }),
    );
  hashset
    .command('enable')
    .argument('<name>', 'hash set')
    .argument('<id>', 'entry id')
    .description('let a disabled entry match again')
    .action((name: string, id: string) =>
      withHashSetStore(async (store) => {
        const { version, changed } = await store.enable(name, id);
        process.stdout.write(changed ? `enabled ${terminalSafe(id)}; ${name} at version ${version}\n` : `${terminalSafe(id)} is unknown or not disabled\n`);
        if (!changed) process.exitCode = 2;
      }),
    );
}
