import type { Command } from 'commander';
import { registerHashSetAddCommand } from './hashset-add-command.js';
import { registerHashSetCreateCommand } from './hashset-create-command.js';
import { registerHashSetDeleteCommand } from './hashset-delete-command.js';
import { registerHashSetDisableCommands } from './hashset-disable-command.js';
import { registerHashSetExportCommand } from './hashset-export-command.js';
import { registerHashSetImportCommand } from './hashset-import-command.js';
import { registerHashSetListCommand } from './hashset-list-command.js';
import { registerHashSetReleaseCommand } from './hashset-release-command.js';
import { registerHashSetRemoveCommand } from './hashset-remove-command.js';
import { registerHashSetStatsCommand } from './hashset-stats-command.js';

/** `abuse-scan hashset ...`: manage the hash sets in Redis (REDIS_URL, ABUSE_SCAN_PREFIX). */
export function registerHashSetCommand(program: Command): void {
  const hashset = program.command('hashset').description('manage perceptual-hash sets in Redis (workers apply changes within a second)');
  registerHashSetCreateCommand(hashset);
  registerHashSetAddCommand(hashset);
  registerHashSetImportCommand(hashset);
  registerHashSetExportCommand(hashset);
  registerHashSetRemoveCommand(hashset);
  registerHashSetDisableCommands(hashset);
  registerHashSetReleaseCommand(hashset);
  registerHashSetListCommand(hashset);
  registerHashSetStatsCommand(hashset);
  registerHashSetDeleteCommand(hashset);
}
