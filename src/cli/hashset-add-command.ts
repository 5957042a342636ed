import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import { ScanError } from '../errors.js';
import { entryRefusal, HASH_BITS } from '../hashsets/hash-set-config.js';
import { entryIdRefusal } from '../hashsets/hash-list-parser.js';
import type { NewHashSetEntry } from '../hashsets/hash-set.js';
import { hashToHex, hexToHash } from '../matching/hash-bits.js';
import { currentUser } from './cli-config.js';
import { CliError } from './cli-errors.js';
import { readRegularFile } from './regular-file.js';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

interface AddFlags {
  label?: string;
  id?: string;
}

const HEX_HASH = /^[0-9a-fA-F]{64}$/;

/**
 * Adds image files (decoded and hashed with the pipeline's one decode) or hex hashes to a set, as
 * one change. A PDQ hash below the set's quality floor is refused: too flat to match reliably. So is
 * a blockhash (of an image or given as hex) that is a blank image's hash: it can never match.
 * Either refusal is `hash_low_quality` and adds nothing, none of the other inputs either.
 */
export function registerHashSetAddCommand(hashset: Command): void {
  hashset
    .command('add')
    .argument('<name>', 'hash set')
    .argument('<image-or-hex...>', 'image files or hex hashes')
    .description('add images or hex hashes to a set (id defaults to the hash hex)')
    .option('--label <label>', 'label recorded with every entry added')
    .option('--id <id>', 'entry id (only with a single image or hash)')
    .action(async (name: string, inputs: string[], flags: AddFlags) => {
      // The command line's own mistakes, before Redis is reached.
      if (flags.id !== undefined && inputs.length !== 1) throw new CliError('invalid option', '--id names one entry: give a single image or hash');
      // The store refuses such an id too (EntryIdError): `hashset import` could not read it back as it is.
      const idRefusal = flags.id === undefined ? undefined : entryIdRefusal(flags.id);
      if (idRefusal !== undefined) throw new CliError('invalid option', `--id: ${idRefusal}`);
      await withHashSetStore(async (store) => {
        const { config } = await store.summary(name);
        const entries: NewHashSetEntry[] = [];
        for (const input of inputs) {
          let hash: Uint8Array;
          /** PDQ quality, of an image (a hash given as hex has none). */
          let quality: number | undefined;
          let source = 'cli';
          if (HEX_HASH.test(input) && !existsSync(input)) {
            hash = hexToHash(input, HASH_BITS[config.algorithm]);
          } else {
            // A regular file only (a directory, FIFO or device is refused unread, naming it), 50 MiB at most.
            const bytes = await readRegularFile(input);
            // sharp loads only for image files: adding hex hashes (a script's loop) starts faster.
            const { decodeImage, hashImage } = await import('../images/index.js');
            const hashes = hashImage(await decodeImage(bytes));
            if (config.algorithm === 'pdq') quality = hashes.pdqQuality;
            hash = config.algorithm === 'pdq' ? hashes.pdq : hashes.blockhash;
            source = `file:${basename(input)}`;
          }
          const refusal = entryRefusal(config, hash, quality);
          if (refusal) {
            const why = quality === undefined ? '' : ' (too flat or small to match reliably)';
            throw new ScanError('hash_low_quality', `${input}: ${refusal}${why}; nothing added`);
          }
          entries.push({ id: flags.id ?? hashToHex(hash), hash, source, addedBy: currentUser(), ...(flags.label !== undefined && { label: flags.label }) });
        }
        const result = await store.add(name, entries);
        for (const entry of entries) {
          const state = result.conflicts.includes(entry.id) ? 'conflict (id exists with another hash; unchanged)' : 'ok';
          process.stdout.write(`${terminalSafe(entry.id)}\t${hashToHex(entry.hash)}\t${state}\n`);
        }
        process.stdout.write(`added ${result.added}, unchanged ${result.unchanged}, conflicts ${result.conflicts.length}; ${name} at version ${result.version}\n`);
        if (result.conflicts.length) process.exitCode = 2;
      });
    });
}
