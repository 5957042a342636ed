import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/**
 * Lifts the flood guard's quarantine: the entries' matches suggest the set's action again. As
 * `disable` and `enable` do for an id they cannot change, an id that is not quarantined (unknown,
 * or not in quarantine) is named and the exit code is 2; the others are released all the same.
 */
export function registerHashSetReleaseCommand(hashset: Command): void {
  hashset
    .command('release')
    .argument('<name>', 'hash set')
    .argument('<id...>', 'quarantined entry ids')
    .description('release entries from flood quarantine (exit 2 when an id is unknown or not quarantined)')
    .action((name: string, given: string[]) =>
      withHashSetStore(async (store) => {
        const ids = [...new Set(given)];
        await store.summary(name);
        const quarantined = new Set((await store.quarantined(name)).map((entry) => entry.id));
        const released = await store.release(name, ids);
        process.stdout.write(`released ${released} of ${ids.length} from quarantine in ${terminalSafe(name)}\n`);
        if (released === ids.length) return;
        // Read just before the release: an id quarantined or released in between is the rare exception.
        const notQuarantined = ids.filter((id) => !quarantined.has(id));
        if (notQuarantined.length) process.stderr.write(`not quarantined (unknown or not in quarantine): ${notQuarantined.map(terminalSafe).join(', ')}\n`);
        process.exitCode = 2;
      }),
    );
}
