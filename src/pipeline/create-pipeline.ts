import type { Redis } from 'ioredis';
import type { FleetConfig } from '../config/config.js';
import type { Logger } from '../runtime/logger.js';
import { SignalRegistry } from '../signals/registry.js';
import { LinkPreparer } from './link-preparer.js';
import { ScanPipeline } from './scan-pipeline.js';

export interface PipelineServices {
  logger: Logger;
  /** Redis for lists, hash sets and caches; absent in the embedded scan. */
  connection?: Redis;
}

/** Builds the scan pipeline from the configuration: the preparers and every signal type. */
export async function createScanPipeline(config: FleetConfig, services: PipelineServices): Promise<ScanPipeline> {
  const registry = new SignalRegistry();
  services.logger.debug({ signalTypes: registry.all().map((t) => t.name) }, 'scan pipeline ready');
  return new ScanPipeline({
    preparers: [new LinkPreparer()],
    registry,
    policy: config.policy,
  });
}
