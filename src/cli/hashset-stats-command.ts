import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';

export function registerHashSetStatsCommand(hashset: Command): void {
  hashset
    .command('stats')
    .argument('<name>', 'hash set')
    .description('size, version, configuration, matches (block and review sets) and quarantined entries')
    .option('--json', 'as one JSON object')
    .action((name: string, flags: { json?: boolean }) =>
      withHashSetStore(async (store) => {
        const summary = await store.summary(name);
        const quarantined = await store.quarantined(name);
        // Matches are counted by the flood guard, which negative sets do not go through: their
        // hits (suppressions of other sets' matches) are in the verdicts' evidence, not counted.
        const countsMatches = summary.config.kind !== 'negative';
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ ...summary, matches: countsMatches ? summary.matches : null, quarantined })}\n`);
          return;
        }
        const { config } = summary;
        const lines = [
          `name        ${config.name}`,
          `algorithm   ${config.algorithm}`,
          `kind        ${config.kind}`,
          `threshold   ${config.threshold}`,
          `min quality ${config.minQuality}${config.algorithm === 'pdq' ? '' : ' (PDQ only: not used)'}`,
          `size        ${summary.size}`,
          `version     ${summary.version}`,
          `created     ${summary.createdAt}`,
          `matches     ${countsMatches ? summary.matches : 'not counted for negative sets (their suppressions are in the verdicts\' evidence)'}`,
          `flood guard more than ${config.flood.maxItems} distinct items per ${config.flood.windowSeconds} s`,
          `quarantined ${quarantined.length}`,
          ...quarantined.map((q) => `  ${q.id}\tsince ${q.at}\t${q.items} items in ${q.windowSeconds} s`),
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      }),
    );
}
