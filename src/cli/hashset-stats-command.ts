import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

export function registerHashSetStatsCommand(hashset: Command): void {
  hashset
    .command('stats')
    .argument('<name>', 'hash set')
    .description('size, version, configuration, matches (block and review sets), suppressions (negative sets) and quarantined entries')
    .option('--json', 'as one JSON object')
    .action((name: string, flags: { json?: boolean }) =>
      withHashSetStore(async (store) => {
        const summary = await store.summary(name);
        const quarantined = await store.quarantined(name);
        // A negative set's own matches are not counted (one that hides nothing does nothing), the
        // block and review matches it hid are; null marks the counter a kind does not keep.
        const negative = summary.config.kind === 'negative';
        if (flags.json) {
          const counts = { matches: negative ? null : summary.matches, suppressions: negative ? summary.suppressions : null };
          process.stdout.write(`${JSON.stringify({ ...summary, ...counts, quarantined })}\n`);
          return;
        }
        const { config } = summary;
        const lines = [
          `name        ${terminalSafe(config.name)}`,
          `algorithm   ${config.algorithm}`,
          `kind        ${config.kind}`,
          `threshold   ${config.threshold}`,
          `min quality ${config.minQuality}${config.algorithm === 'pdq' ? '' : ' (PDQ only: not used)'}`,
          `size        ${summary.size}`,
          `version     ${summary.version}`,
          `created     ${summary.createdAt}`,
          ...(negative
            ? ['matches     not counted for negative sets: see suppressed', `suppressed  ${summary.suppressions} (block and review matches hidden since the set was created)`]
            : [`matches     ${summary.matches}`]),
          `flood guard more than ${config.flood.maxItems} distinct items per ${config.flood.windowSeconds} s`,
          `quarantined ${quarantined.length}`,
          // Entry ids come from imported files: escaped, like every stored text on a terminal.
          ...quarantined.map((q) => `  ${terminalSafe(q.id)}\tsince ${q.at}\t${q.items} items in ${q.windowSeconds} s`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
