import { Option, type Command } from 'commander';
import { quoteCsvCell } from '../formats/csv.js';
import { formatHashSetSettingsLine } from '../hashsets/hash-set-config.js';
import { hashToHex } from '../matching/hash-bits.js';
import { withHashSetStore } from './hashset-cli.js';
import { terminalSafe } from './terminal-text.js';

/**
 * Writes a set to stdout, streaming: CSV `hash,label,id,source,added_at,added_by,disabled_reason`
 * (RFC 4180; `hashset import` reads every column back, so a round trip changes nothing) under a
 * settings line, `# abuse-scan hash set: algorithm=pdq kind=block threshold=8 min_quality=50
 * flood_max_items=1000 flood_window_seconds=3600` (formatHashSetSettingsLine: every setting that
 * changes matching, so that ABUSE_SCAN_HASHSETS_DIR loads the file as the set was, and `hashset
 * import` can check them against its set's; a `#` comment, which every hash-list reader skips), or
 * a plain hex list (one hash a line and nothing else, no settings line: for other tools). On a terminal, the text cells (labels, ids, reasons: outside text) are shown through
 * terminalSafe so that they cannot drive it; to a file or a pipe they are written as stored.
 * A disabled entry always has a non-empty disabled_reason (an empty cell reads back as enabled):
 * whether it is disabled is read from its flag, and one disabled without a reason (an empty or
 * blank one, stored before `hashset disable` refused them) gets DISABLED_WITHOUT_REASON.
 */
const EXPORT_FORMATS = ['csv', 'hex'] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The disabled_reason exported for a disabled entry whose stored reason is empty or blank. */
export const DISABLED_WITHOUT_REASON = 'disabled (no reason recorded)';

/** The disabled_reason cell of an entry: '' when enabled, never '' when disabled. */
export function exportedDisabledReason(disabled: boolean, storedReason: string | undefined): string {
  if (!disabled) return '';
  return storedReason !== undefined && storedReason.trim() !== '' ? storedReason : DISABLED_WITHOUT_REASON;
}

export function registerHashSetExportCommand(hashset: Command): void {
  hashset
    .command('export')
    .argument('<name>', 'hash set')
    .description('write every entry to stdout (disabled ones included in csv, skipped in hex)')
    .addOption(new Option('--format <format>', 'csv (the set\'s settings and every column: imports back as it was) or hex (enabled hashes only, no settings)').choices(EXPORT_FORMATS).default('csv'))
    .action((name: string, flags: { format: ExportFormat }) =>
      withHashSetStore(async (store) => {
        const { config } = await store.summary(name); // hashset_not_found before any output
        const cell = process.stdout.isTTY ? (text: string) => quoteCsvCell(terminalSafe(text)) : quoteCsvCell;
        if (flags.format === 'csv') process.stdout.write(`${formatHashSetSettingsLine(config)}\nhash,label,id,source,added_at,added_by,disabled_reason\n`);
        for await (const batch of store.scanEntries(name, 5000)) {
          const ids = batch.map((entry) => entry.id.toString());
          const infos = flags.format === 'csv' ? await store.info(name, ids) : [];
          const lines = batch.map((entry, i) => {
            if (flags.format === 'hex') return entry.disabled ? '' : `${hashToHex(entry.hash)}\n`;
            const info = infos[i];
            const cells = [hashToHex(entry.hash), info?.label ?? '', ids[i]!, info?.source ?? '', info?.addedAt ?? '', info?.addedBy ?? '', exportedDisabledReason(entry.disabled, info?.disabled?.reason)];
            return `${cells.map(cell).join(',')}\n`;
          });
          if (!process.stdout.write(lines.join(''))) await new Promise((resolve) => process.stdout.once('drain', resolve));
        }
      }),
    );
}
