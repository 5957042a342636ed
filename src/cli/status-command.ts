import { Queue } from 'bullmq';
import type { Command } from 'commander';
import type { FleetConfig } from '../config/config.js';
import { readBacklog, QUEUE_STATES } from '../ops/backlog.js';
import { SCAN_QUEUE_KINDS } from '../queues/names.js';
import type { RedisClient } from '../runtime/redis.js';
import { verdictKeys } from '../verdicts/verdict-keys.js';
import { withRedis } from './cli-redis.js';
import { terminalSafe } from './terminal-text.js';

/**
 * `abuse-scan status [--json]`: what is waiting on the fleet, from Redis: scan jobs per queue and
 * state, the results stream's length and how far behind each consumer group is. The same
 * figures /metrics reports, for a terminal.
 */
function showStatus(flags: { json?: boolean }): Promise<void> {
  return withRedis((redis, config) => printStatus(redis, config, flags));
}

async function printStatus(redis: RedisClient, config: FleetConfig, flags: { json?: boolean }): Promise<void> {
  // Connection errors are withRedis's to report; a queue re-emits them.
  const queues = SCAN_QUEUE_KINDS.map((kind) => new Queue(kind, { connection: redis, prefix: config.prefix }).on('error', () => undefined));
  const stream = verdictKeys(config.prefix).stream;
  try {
    const backlog = await readBacklog(queues, redis, stream);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(backlog)}\n`);
      return;
    }
    const lines = [['queue', ...QUEUE_STATES].map((cell) => cell.padStart(12)).join('')];
    for (const queue of SCAN_QUEUE_KINDS) {
      const count = (state: string) => backlog.jobs.find((j) => j.queue === queue && j.state === state)?.count ?? 0;
      lines.push([queue, ...QUEUE_STATES.map((state) => String(count(state)))].map((cell) => cell.padStart(12)).join(''));
    }
    lines.push(`verdict stream ${terminalSafe(stream)}: ${backlog.verdictStreamEntries} entries`);
    if (backlog.consumerGroups.length === 0) lines.push('  no consumer group');
    for (const { group, lag, lagAtLeast, pending } of backlog.consumerGroups) {
      // Group names are whatever consumers chose: escaped, like all outside text on a terminal.
      lines.push(`  group ${terminalSafe(group)}: ${lagAtLeast ? 'at least ' : ''}${lag ?? 'unknown'} not read yet, ${pending} delivered and not acknowledged`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await Promise.all(queues.map((queue) => queue.close()));
  }
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('print the scan jobs waiting per queue and the verdict consumers\' lag (REDIS_URL)')
    .option('--json', 'print one JSON object')
    .action(showStatus);
}
