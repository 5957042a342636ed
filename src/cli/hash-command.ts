import type { Command } from 'commander';
import { ScanError, toScanError } from '../errors.js';
import { hashToHex } from '../matching/hash-bits.js';
import { CliError } from './cli-errors.js';
import { readRegularFile } from './regular-file.js';
import { terminalSafe } from './terminal-text.js';

interface HashFlags {
  json?: boolean;
  dihedral?: boolean;
  views?: boolean;
}

/**
 * `abuse-scan hash <file...>`: blockhash, PDQ and PDQ quality of each image's first frame, from the
 * same decode the workers use. Exit code 1 when any file could not be hashed.
 */
async function hashFiles(files: string[], flags: HashFlags): Promise<void> {
  for (const file of files) {
    try {
      // Only regular files are read (reading a FIFO waits for a writer, for ever), 50 MiB at most.
      const bytes = await readRegularFile(file);
      // sharp loads with the first image: `hashset add` of hex hashes, which shares the reader, never loads it.
      const { DIHEDRAL_VARIANTS, decodeImage, hashImage } = await import('../images/index.js');
      const decoded = await decodeImage(bytes);
      const hashes = hashImage(decoded, { dihedral: flags.dihedral ?? false, viewerViews: flags.views ?? false });
      const dihedralOf = (picture: { dihedral?: Uint8Array[] }) => picture.dihedral && Object.fromEntries(picture.dihedral.map((hash, i) => [DIHEDRAL_VARIANTS[i]!, hashToHex(hash)]));
      const dihedral = dihedralOf(hashes);
      // A hash-set match on a view of a frame (evidence `view`) is reproduced by these. A trimmed
      // view's box is given in the image's upright pixels (the hashes read the decode's working
      // copy, at most 512 pixels a side: the box is scaled from it, so within a pixel or so).
      const frame = decoded.frames[0]!;
      const scale = { x: decoded.width / frame.width, y: decoded.height / frame.height };
      const boxOf = (box: { left: number; top: number; width: number; height: number }) => ({
        left: Math.round(box.left * scale.x),
        top: Math.round(box.top * scale.y),
        width: Math.round(box.width * scale.x),
        height: Math.round(box.height * scale.y),
      });
      const views = hashes.views?.map((viewed) => ({
        view: viewed.view,
        blockhash: hashToHex(viewed.blockhash),
        pdq: hashToHex(viewed.pdq),
        pdqQuality: viewed.pdqQuality,
        ...(viewed.box && { box: boxOf(viewed.box) }),
        dihedral: dihedralOf(viewed),
      }));
      if (flags.json) {
        const line = { file, blockhash: hashToHex(hashes.blockhash), pdq: hashToHex(hashes.pdq), pdqQuality: hashes.pdqQuality, width: decoded.width, height: decoded.height };
        const jsonViews = views && Object.fromEntries(views.map(({ view, dihedral: variants, ...rest }) => [view, variants ? { ...rest, dihedral: variants } : rest]));
        process.stdout.write(`${JSON.stringify({ ...line, ...(dihedral && { dihedral }), ...(flags.views && { views: jsonViews ?? {} }) })}\n`);
      } else {
        const lines = [terminalSafe(file), `  blockhash   ${hashToHex(hashes.blockhash)}`, `  pdq         ${hashToHex(hashes.pdq)}  quality ${hashes.pdqQuality}`];
        for (const [variant, hex] of Object.entries(dihedral ?? {})) lines.push(`  ${variant.padEnd(11)} ${hex}`);
        for (const viewed of views ?? []) {
          const box = viewed.box && `  box ${viewed.box.width}x${viewed.box.height} at ${viewed.box.left},${viewed.box.top}`;
          lines.push(`  ${viewed.view}${box ?? ''}`, `    blockhash   ${viewed.blockhash}`, `    pdq         ${viewed.pdq}  quality ${viewed.pdqQuality}`);
          for (const [variant, hex] of Object.entries(viewed.dihedral ?? {})) lines.push(`    ${variant.padEnd(11)} ${hex}`);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
      }
    } catch (thrown) {
      // A directory, FIFO or device is no image file: path_not_found, as a worker reports it.
      const notRegular = thrown instanceof CliError && (thrown.reason === 'is a directory' || thrown.reason === 'not a regular file');
      const error = notRegular ? new ScanError('path_not_found', `${file} is not a regular file`) : toScanError(thrown);
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
    .option('--views', 'also print the hashes of the image as viewers see it, the views it has (what a hash-set match with `view` in its evidence matched): upright (EXIF orientation 2-8), on-white and on-black (alpha), trimmed, on-white-trimmed and on-black-trimmed (a uniform border cut off; with its box in the upright image), stretched (contrast stretched, when PDQ quality is under 100)')
    .action(hashFiles);
}
