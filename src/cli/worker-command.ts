import type { Command } from 'commander';
import { FleetMetrics } from '../ops/metrics.js';
import { startOpsServer, type OpsServer } from '../ops/ops-server.js';
import { createScanPipeline } from '../pipeline/create-pipeline.js';
import { createLogger } from '../runtime/logger.js';
import { createRedis } from '../runtime/redis.js';
import { runUntilSignalled } from '../runtime/runnable.js';
import { ScanWorker } from '../worker/scan-worker.js';
import { loadCliConfig } from './cli-config.js';

/** Starts a scan worker; flags override the matching environment variables. */
export async function runWorker(flags: { queues?: string; concurrency?: string; metricsPort?: string }): Promise<void> {
  const config = loadCliConfig({
    queues: flags.queues,
    concurrency: flags.concurrency,
    metricsPort: flags.metricsPort,
  });
  const logger = createLogger(config.logLevel, 'abuse-scan-worker');
  const connection = createRedis(config.redisUrl);
  const metrics = new FleetMetrics({ defaultMetrics: true });
  const pipeline = await createScanPipeline(config, { logger, connection, metricsRegistry: metrics.registry });
  const worker = new ScanWorker({ config, pipeline, connection, logger, metrics });
  metrics.readBacklogOnScrape(() => worker.backlog());
  let ops: OpsServer | undefined;
  if (config.metricsPort !== undefined) {
    ops = await startOpsServer(metrics, config.metricsPort, () => worker.running);
    logger.info({ port: ops.port }, 'metrics and health endpoint listening');
  }
  await runUntilSignalled(worker, logger, async () => {
    await ops?.close();
    await pipeline.close();
    await connection.quit();
  });
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('take scan jobs from the queues and emit verdicts (Redis from REDIS_URL)')
    .option('-q, --queues <list>', 'comma-separated scan queues: links,images (env ABUSE_SCAN_QUEUES)')
    .option('-c, --concurrency <n>', 'jobs in flight per queue in this process (env ABUSE_SCAN_CONCURRENCY)')
    .option('--metrics-port <port>', 'serve /metrics and /healthz on this port (env ABUSE_SCAN_METRICS_PORT)')
    .action(runWorker);
}
