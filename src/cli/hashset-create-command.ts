import { Option, type Command } from 'commander';
import { HASH_ALGORITHMS, HASH_SET_KINDS, type HashAlgorithm, type HashSetKind } from '../hashsets/hash-set-config.js';
import { integerFlag } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { withHashSetStore } from './hashset-cli.js';

interface CreateFlags {
  algorithm: HashAlgorithm;
  threshold?: string;
  kind: HashSetKind;
  minQuality?: string;
  floodMaxItems?: string;
  floodWindow?: string;
}

export function registerHashSetCreateCommand(hashset: Command): void {
  hashset
    .command('create')
    .argument('<name>', 'set name: letters, digits, _ and -')
    .description('create an empty hash set')
    .addOption(new Option('--algorithm <algorithm>', 'hash it holds').choices(HASH_ALGORITHMS).makeOptionMandatory())
    .option('--threshold <n>', 'largest Hamming distance that matches (default pdq 31, blockhash 64)')
    .addOption(new Option('--kind <kind>', 'what a match asks for (negative: known-good, suppresses other matches)').choices(HASH_SET_KINDS).default('block'))
    .option('--min-quality <n>', 'PDQ quality floor for adding and matching (default 50)')
    .option('--flood-max-items <n>', 'quarantine an entry matching more distinct items than this per window (default 1000)')
    .option('--flood-window <seconds>', 'flood window (default 3600)')
    .action((name: string, flags: CreateFlags) =>
      withHashSetStore(async (store) => {
        const threshold = integerFlag('threshold', flags.threshold);
        const minQuality = integerFlag('min-quality', flags.minQuality);
        const maxItems = integerFlag('flood-max-items', flags.floodMaxItems);
        const windowSeconds = integerFlag('flood-window', flags.floodWindow);
        const created = await store.create({
          name,
          algorithm: flags.algorithm,
          kind: flags.kind,
          ...(threshold !== undefined && { threshold }),
          ...(minQuality !== undefined && { minQuality }),
          flood: { ...(maxItems !== undefined && { maxItems }), ...(windowSeconds !== undefined && { windowSeconds }) },
        });
        if (!created) throw new CliError('already exists', `hash set ${JSON.stringify(name)}: its configuration is unchanged`);
        const { config } = await store.summary(name);
        process.stdout.write(`created ${name}: ${config.algorithm}, threshold ${config.threshold}, kind ${config.kind}, min quality ${config.minQuality}\n`);
      }),
    );
}
