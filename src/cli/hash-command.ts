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
      // The eight turns and mirrors of PDQ and of blockhash, keyed by variant (DIHEDRAL_VARIANTS order).
      const variantsOf = (variants?: Uint8Array[]) => variants && Object.fromEntries(variants.map((hash, i) => [DIHEDRAL_VARIANTS[i]!, hashToHex(hash)]));
      const dihedralOf = (picture: { dihedral?: Uint8Array[]; blockhashDihedral?: Uint8Array[] }) => {
        const dihedral = variantsOf(picture.dihedral);
        const blockhashDihedral = variantsOf(picture.blockhashDihedral);
        return { ...(dihedral && { dihedral }), ...(blockhashDihedral && { blockhashDihedral }) };
      };
      // A hash-set match on a view of a frame (evidence `view` and `box`) is reproduced by these.
      // A trimmed view's box (and that of a trimmed view stretched) is given in the image's upright pixels
      // (the hashes read the decode's working copy, at most 512 pixels a side: the box is scaled
      // from it, so within a pixel or so). A frame can have several views of one name (a border's
      // rings, each trimmed view stretched): they are listed in order, each with its box.
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
        ...(viewed.box && { box: boxOf(viewed.box) }),
        blockhash: hashToHex(viewed.blockhash),
        pdq: hashToHex(viewed.pdq),
        pdqQuality: viewed.pdqQuality,
        ...dihedralOf(viewed),
      }));
      if (flags.json) {
        const line = { file, blockhash: hashToHex(hashes.blockhash), pdq: hashToHex(hashes.pdq), pdqQuality: hashes.pdqQuality, width: decoded.width, height: decoded.height };
        process.stdout.write(`${JSON.stringify({ ...line, ...dihedralOf(hashes), ...(flags.views && { views: views ?? [] }) })}\n`);
      } else {
        // Each picture's variants under a heading per algorithm, `indent` deep.
        const variantLines = (picture: { dihedral?: Record<string, string>; blockhashDihedral?: Record<string, string> }, indent: string): string[] =>
          (
            [
              ['pdq variants', picture.dihedral],
              ['blockhash variants', picture.blockhashDihedral],
            ] as const
          ).flatMap(([heading, variants]) =>
            variants ? [`${indent}${heading}`, ...Object.entries(variants).map(([variant, hex]) => `${indent}  ${variant.padEnd(11)} ${hex}`)] : [],
          );
        const lines = [terminalSafe(file), `  blockhash   ${hashToHex(hashes.blockhash)}`, `  pdq         ${hashToHex(hashes.pdq)}  quality ${hashes.pdqQuality}`];
        lines.push(...variantLines(dihedralOf(hashes), '  '));
        for (const viewed of views ?? []) {
          const box = viewed.box && `  box ${viewed.box.width}x${viewed.box.height} at ${viewed.box.left},${viewed.box.top}`;
          lines.push(`  ${viewed.view}${box ?? ''}`, `    blockhash   ${viewed.blockhash}`, `    pdq         ${viewed.pdq}  quality ${viewed.pdqQuality}`);
          lines.push(...variantLines(viewed, '    '));
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
    .option('--json', 'one JSON object per file: file, blockhash, pdq, pdqQuality, width, height (or error); with --dihedral, dihedral (PDQ) and blockhashDihedral, each keyed by variant; with --views, views: an array of { view, box?, blockhash, pdq, pdqQuality }')
    .option('--dihedral', 'also print the 8 rotation/mirror variants of PDQ and of blockhash')
    .option('--views', 'also print the hashes of the image as viewers see it, the views it has (what a hash-set match with `view` and `box` in its evidence matched): upright (EXIF orientation 2-8), on-white and on-black (alpha), trimmed, on-white-trimmed and on-black-trimmed (a uniform border cut off; with its box in the upright image), stretched (contrast stretched, when PDQ quality is under 100: the whole image, and each trimmed view, with its box)')
    .action(hashFiles);
}
