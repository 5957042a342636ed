import type { Command } from 'commander';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

export function registerHashSetListCommand(hashset: Command): void {
  hashset
    .command('list')
    .description('every hash set: algorithm, kind, threshold, size, version')
    .option('--json', 'one JSON object per set')
    .action((flags: { json?: boolean }) =>
      withHashSetStore(async (store) => {
        for (const name of await store.names()) {
          const { config, size, version } = await store.summary(name);
          process.stdout.write(
            flags.json
              ? `${JSON.stringify({ name, algorithm: config.algorithm, kind: config.kind, threshold: config.threshold, size, version })}\n`
              : `${terminalSafe(name)}\t${config.algorithm}\t${config.kind}\tthreshold ${config.threshold}\t${size} entries\tversion ${version}\n`,
          );
        }
      }),
    );
}
