import type { Command } from 'commander';
import { hashSetNotFound } from '../hashsets/hash-set-store.js';
import { CliError } from './cli-errors.js';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `hashset delete <name> --yes`: the set, every entry, its changelog, quarantine and flood counters
 * go in one step (HashSetStore.delete); workers drop it within a second and stop naming it in
 * verdicts. Without `--yes` it only says what it would delete (exit 1), as `blocklist delete` does.
 * A set that does not exist: `hashset_not_found`, exit 1, as every hashset command.
 */
export function registerHashSetDeleteCommand(hashset: Command): void {
  hashset
    .command('delete')
    .argument('<name>', 'hash set')
    .option('--yes', 'delete it (without: say what would be deleted, exit 1)')
    .description('delete a hash set and all its entries (workers drop it within a second); a set created again under the name starts empty')
    .action((name: string, flags: { yes?: boolean }) =>
      withHashSetStore(async (store) => {
        if (!flags.yes) {
          const { size, version } = await store.summary(name);
          throw new CliError('confirmation required', `would delete hash set ${name} and its ${size} entries (version ${version}): pass --yes to delete it`);
        }
        const deleted = await store.delete(name);
        if (deleted === undefined) throw hashSetNotFound(name);
        process.stdout.write(`deleted hash set ${terminalSafe(name)}: ${deleted.entries} entries, last version ${deleted.version}\n`);
      }),
    );
}
