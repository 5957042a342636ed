import type { FleetConfig } from '../config/config.js';
import { fetchImage } from '../links/fetch-image.js';
import type { UnfurlOptions } from '../links/unfurl.js';
import type { Logger } from '../runtime/logger.js';
import type { RedisClient } from '../runtime/redis.js';
import { SignalRegistry } from '../signals/registry.js';
import { ImagePreparer } from './image-preparer.js';
import { LinkPreparer } from './link-preparer.js';
import { ScanPipeline } from './scan-pipeline.js';

export interface PipelineServices {
  logger: Logger;
  /** Redis for lists, hash sets and caches; absent in the embedded scan. */
  connection?: RedisClient;
  /**
   * DANGER, code only, never configuration: literal IPs the unfurler may reach although they are
   * not public. Tests use it to reach their servers on 127.0.0.1.
   */
  allowPrivateAddressesFor?: readonly string[];
}

/** Builds the scan pipeline from the configuration: the preparers and every signal type. */
export async function createScanPipeline(config: FleetConfig, services: PipelineServices): Promise<ScanPipeline> {
  const unfurlOptions: UnfurlOptions = {
    maxRedirects: config.unfurlMaxRedirects,
    hopTimeoutMs: config.unfurlHopTimeoutMs,
    totalTimeoutMs: config.unfurlTotalTimeoutMs,
    ...(services.allowPrivateAddressesFor && { allowPrivateAddressesFor: services.allowPrivateAddressesFor }),
  };
  if (services.allowPrivateAddressesFor?.length) {
    services.logger.warn({ allowPrivateAddressesFor: services.allowPrivateAddressesFor }, 'UNFURL ADDRESS GUARD OVERRIDDEN: private addresses reachable (tests only)');
  }
  const registry = new SignalRegistry();
  services.logger.debug({ signalTypes: registry.all().map((t) => t.name) }, 'scan pipeline ready');
  return new ScanPipeline({
    preparers: [
      new LinkPreparer({ unfurl: config.unfurl, unfurlOptions }),
      new ImagePreparer({
        source: {
          imageRoot: config.imageRoot,
          fetchImage: async (url, maxBytes, signal) => {
            const fetched = await fetchImage(url, { maxBytes, ...(services.allowPrivateAddressesFor && { allowPrivateAddressesFor: services.allowPrivateAddressesFor }) }, signal);
            return fetched.bytes;
          },
        },
      }),
    ],
    registry,
    policy: config.policy,
  });
}
