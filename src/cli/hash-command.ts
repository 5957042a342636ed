import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { ScanError, toScanError } from '../errors.js';
import { DIHEDRAL_VARIANTS, decodeImage, hashImage } from '../images/index.js';
import { hashToHex } from '../matching/hash-bits.js';
import { terminalSafe } from './terminal-text.js';

interface HashFlags {
  json?: boolean;
  dihedral?: boolean;
}

/**
 * `abuse-scan hash <file...>`: blockhash, PDQ and PDQ quality of each image's first frame, from the
 * same decode the workers use. Exit code 1 when any file could not be hashed.
 */
async function hashFiles(files: string[], flags: HashFlags): Promise<void> {
  for (const file of files) {
    try {
      // Reading a FIFO waits for a writer, for ever: only regular files are read.
      if (!(await stat(file)).isFile()) throw new ScanError('path_not_found', `${file} is not a regular file`);
      const decoded = await decodeImage(await readFile(file));
      const hashes = hashImage(decoded, { dihedral: flags.dihedral ?? false });
      const dihedral = hashes.dihedral && Object.fromEntries(hashes.dihedral.map((hash, i) => [DIHEDRAL_VARIANTS[i]!, hashToHex(hash)]));
      if (flags.json) {
        const line = { file, blockhash: hashToHex(hashes.blockhash), pdq: hashToHex(hashes.pdq), pdqQuality: hashes.pdqQuality, width: decoded.width, height: decoded.height };
        process.stdout.write(`${JSON.stringify(dihedral ? { ...line, dihedral } : line)}\n`);
      } else {
        const lines = [terminalSafe(file), `  blockhash   ${hashToHex(hashes.blockhash)}`, `  pdq         ${hashToHex(hashes.pdq)}  quality ${hashes.pdqQuality}`];
        for (const [variant, hex] of Object.entries(dihedral ?? {})) lines.push(`  ${variant.padEnd(11)} ${hex}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      }
    } catch (thrown) {
      const error = toScanError(thrown);
      const code = (thrown as NodeJS.ErrnoException).code === 'ENOENT' ? 'path_not_found' : error.code;
      if (flags.json) process.stdout.write(`${JSON.stringify({ file, error: { code, message: error.message } })}\n`);
      else process.stderr.write(`${terminalSafe(file)}: error ${code}: ${terminalSafe(error.message)}\n`);
      process.exitCode = 1;
    }
  }
}

export function registerHashCommand(program: Command): void {
  program
    .command('hash')
    .argument('<file...>', 'image files')
    .description('print blockhash, PDQ and PDQ quality of image files (exit 1 if any failed)')
    .option('--json', 'one JSON object per file: file, blockhash, pdq, pdqQuality, width, height (or error)')
    .option('--dihedral', 'also print the 8 PDQ rotation/mirror variants')
    .action(hashFiles);
}
