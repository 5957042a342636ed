import type { Command } from 'commander';
import type { FleetConfig } from '../config/config.js';
import { FleetMetrics } from '../ops/metrics.js';
import { startOpsServer, type Health, type OpsServer } from '../ops/ops-server.js';
import { RedisLiveness } from '../ops/redis-liveness.js';
import { createScanPipeline } from '../pipeline/create-pipeline.js';
import { createLogger, logConsoleWarnings } from '../runtime/logger.js';
import { createRedis } from '../runtime/redis.js';
import { runUntilSignalled } from '../runtime/runnable.js';
import { ScanWorker } from '../worker/scan-worker.js';
import { embeddedScanDirectoriesSet, imageRootProblem, loadCliConfig } from './cli-config.js';
import { CliError } from './cli-errors.js';

/**
 * Starts a scan worker; flags override the matching environment variables. Signal handlers are
 * installed before anything connects (runUntilSignalled), and taking jobs is the last step of
 * the start-up, so a signal before it exits without having taken one.
 */
export async function runWorker(flags: { queues?: string; concurrency?: string; metricsPort?: string }): Promise<void> {
  const config = loadCliConfig({
    queues: flags.queues,
    concurrency: flags.concurrency,
    metricsPort: flags.metricsPort,
  });
  // Before the signal handlers and the JSON log: a bad setting ends the worker as any command's does.
  await checkWorkerSettings(config);
  const logger = createLogger(config.logLevel, 'abuse-scan-worker');
  logConsoleWarnings(logger);
  await runUntilSignalled(
    async () => {
      const metrics = new FleetMetrics({ defaultMetrics: true, prefix: config.prefix });
      let worker: ScanWorker | undefined;
      let liveness: RedisLiveness | undefined;
      let shuttingDown = false;
      // Readiness (/healthz): only a worker taking jobs whose Redis answers it.
      const readiness = (): Health => {
        if (worker?.running && liveness) return liveness.health();
        return { healthy: false, reason: shuttingDown ? 'not taking jobs (shutting down)' : 'not taking jobs (starting)' };
      };
      // The ops server comes first, before anything waits on Redis: /livez answers (and /metrics,
      // without the backlog gauges) while the worker starts, however long Redis stays away, so a
      // liveness probe does not restart a worker that is only waiting for Redis.
      let ops: OpsServer | undefined;
      if (config.metricsPort !== undefined) {
        ops = await startOpsServer(metrics, config.metricsPort, readiness);
        logger.info({ port: ops.port }, 'metrics and health endpoint listening');
      }
      const connection = createRedis(config.redisUrl);
      // The scan workers report the connection's errors while they run; before (why start-up
      // waits) and after, this does, instead of ioredis printing them raw.
      connection.on('error', (error: Error) => {
        if (!worker?.running) logger.warn({ err: error }, 'Redis connection error');
      });
      const pipeline = await createScanPipeline(config, { logger, connection, metricsRegistry: metrics.registry });
      worker = new ScanWorker({ config, pipeline, connection, logger, metrics });
      metrics.readBacklogOnScrape(() => worker.backlog());
      // Reconnects connections whose Redis stopped answering (a half-open socket would hold the
      // worker's commands forever) and tells /healthz how long Redis has been silent.
      liveness = new RedisLiveness({ targets: () => worker.livenessTargets(), unhealthyAfterMs: config.redisHealthTimeoutMs, logger });
      liveness.start();
      await worker.run();
      return {
        async shutdown() {
          shuttingDown = true;
          const drained = await worker.shutdown(); // the watchdog keeps the connections alive for the drain
          await liveness.stop();
          await ops?.close();
          await pipeline.close();
          await connection.quit();
          return drained;
        },
        abandon: () => worker.abandon(),
      };
    },
    logger,
    { shutdownTimeoutMs: config.shutdownTimeoutMs },
  );
}

/**
 * Settings a worker would accept and then fail every job on, or ignore: refused at start with
 * `invalid configuration`, one line per variable.
 */
async function checkWorkerSettings(config: FleetConfig): Promise<void> {
  // With a connection the pipeline reads lists and hash sets from Redis only.
  const problems = embeddedScanDirectoriesSet(config).map(
    ({ variable, holds, importedWith }) =>
      `${variable}: a worker matches against the fleet's ${holds} in Redis, never files: unset it and load the files into Redis with \`abuse-scan ${importedWith}\``,
  );
  if (config.imageRoot !== undefined) {
    // Left to the jobs, a typo or an unmounted volume makes every { path } item path_not_found, for good.
    const problem = await imageRootProblem(config.imageRoot);
    if (problem) problems.push(problem);
  }
  if (problems.length) throw new CliError('invalid configuration', problems.join('\n'));
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take scan jobs from the queues and emit verdicts (Redis from REDIS_URL)')
    .option('-q, --queues <list>', 'comma-separated scan queues: links,images (env ABUSE_SCAN_QUEUES)')
    .option('-c, --concurrency <n>', 'jobs in flight per queue in this process (env ABUSE_SCAN_CONCURRENCY)')
    .option('--metrics-port <port>', 'serve /metrics, /livez and /healthz on this port (env ABUSE_SCAN_METRICS_PORT)')
    .action(runWorker);
}
