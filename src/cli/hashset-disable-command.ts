import type { Command } from 'commander';
import { CliError } from './cli-errors.js';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `disable` keeps an entry (and why) but stops it matching; `enable` undoes it. The reason is
 * required and must say something: an empty or blank one is refused (invalid option) before
 * Redis is reached, as it would tell an operator nothing (and `hashset export` could not carry it).
 */
export function registerHashSetDisableCommands(hashset: Command): void {
  hashset
    .command('disable')
    .argument('<name>', 'hash set')
    .argument('<id>', 'entry id')
    .requiredOption('--reason <reason>', 'why (recorded with the entry; an empty one is refused)')
    .description('stop an entry matching, keeping it and the reason')
    .action(async (name: string, id: string, flags: { reason: string }) => {
      if (flags.reason.trim() === '') throw new CliError('invalid option', `--reason must say why the entry is disabled, got ${JSON.stringify(flags.reason)}`);
      await withHashSetStore(async (store) => {
        const { version, changed } = await store.disable(name, id, flags.reason);
        process.stdout.write(changed ? `disabled ${terminalSafe(id)}; ${name} at version ${version}\n` : `${terminalSafe(id)} is unknown or already disabled\n`);
        if (!changed) process.exitCode = 2;
      });
    });
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
