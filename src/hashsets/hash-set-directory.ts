/**
 * Hash sets for the embedded scan, without Redis: a directory of `<name>.<algorithm>.csv` files
 * (optionally `<name>.<algorithm>.<kind>.csv`, kind block, review or negative), each with the
 * columns hash, label, id and optionally quality (a header row naming them is optional; a PDQ hash
 * below the set's quality floor, or a blockhash that is a blank image's hash, is skipped), or a
 * `hashset export` as it is (its disabled entries stay disabled, its provenance is kept). Loaded
 * once into memory; each set's version is its file's digest, so verdicts say exactly which file
 * was consulted.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Logger } from '../runtime/logger.js';
import { BLANK_BLOCKHASH_REASON, blockhashEntryCanMatch, HASH_BITS, HASH_ALGORITHMS, HASH_SET_KINDS, passesQualityFloor, resolveHashSetConfig, type HashAlgorithm, type HashSetKind } from './hash-set-config.js';
import { entryFromLine, readHashList, type BadHashLine } from './hash-list-parser.js';
import { HashSet } from './hash-set.js';

const FILE_NAME = new RegExp(`^([A-Za-z0-9][A-Za-z0-9_-]{0,63})\\.(${HASH_ALGORITHMS.join('|')})(?:\\.(${HASH_SET_KINDS.join('|')}))?\\.csv$`);

export interface DirectoryLoadResult {
  sets: HashSet[];
  /** Lines skipped, per file. */
  skipped: Array<{ file: string } & BadHashLine>;
}

/** Loads every hash-set file in `dir`; other files are ignored, bad lines skipped and returned. */
export async function loadHashSetDirectory(dir: string, logger?: Logger): Promise<DirectoryLoadResult> {
  const sets: HashSet[] = [];
  const skipped: DirectoryLoadResult['skipped'] = [];
  const loadedAt = new Date().toISOString();
  for (const file of readdirSync(dir).sort()) {
    const parts = FILE_NAME.exec(file);
    if (!parts) continue;
    const algorithm = parts[2] as HashAlgorithm;
    const config = resolveHashSetConfig({ name: parts[1]!, algorithm, kind: (parts[3] as HashSetKind | undefined) ?? 'block' });
    const bytes = readFileSync(join(dir, file));
    const set = new HashSet(config, { versionTag: `sha256:${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}` });
    for await (const result of readHashList(Readable.from([bytes]), 'csv', HASH_BITS[algorithm])) {
      if (!result.ok) {
        skipped.push({ file, ...result.bad });
        continue;
      }
      const { entry } = result;
      if (!passesQualityFloor(config, entry.quality)) {
        skipped.push({ file, line: entry.line, reason: `PDQ quality ${entry.quality} below the floor of ${config.minQuality}` });
        continue;
      }
      if (!blockhashEntryCanMatch(config, entry.hash)) {
        skipped.push({ file, line: entry.line, reason: BLANK_BLOCKHASH_REASON });
        continue;
      }
      const outcome = set.add(entryFromLine(entry, { source: file, at: loadedAt }));
      if (outcome === 'conflict') skipped.push({ file, line: entry.line, reason: `id ${entry.id} repeated with another hash` });
    }
    sets.push(set);
    logger?.info({ hashSet: config.name, file, entries: set.size, version: set.version }, 'hash set loaded from file');
  }
  for (const bad of skipped) logger?.warn(bad, 'hash set file line skipped');
  return { sets, skipped };
}
