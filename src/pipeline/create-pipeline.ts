import type { Registry } from 'prom-client';
import type { FleetConfig } from '../config/config.js';
import { fetchImage } from '../links/fetch-image.js';
import { processAddressLimiter, processHostLimiter } from '../links/guard/host-limiter.js';
import type { UnfurlOptions } from '../links/unfurl.js';
import { UnfurlCache } from '../links/unfurl-cache.js';
import { loadListDirectory } from '../lists/list-directory.js';
import { ListReplica } from '../lists/list-replica.js';
import { ListStore } from '../lists/list-store.js';
import { createLinkBlocklistSignalType } from '../signals/link-blocklist/index.js';
import type { Logger } from '../runtime/logger.js';
import type { RedisClient } from '../runtime/redis.js';
import { SignalRegistry } from '../signals/registry.js';
import { openHashSetMatching } from '../signals/hashset-match/index.js';
import { openModelSignals } from '../classifiers/model-signals.js';
import { ImagePreparer } from './image-preparer.js';
import { LinkPreparer } from './link-preparer.js';
import { ScanPipeline } from './scan-pipeline.js';

export interface PipelineServices {
  logger: Logger;
  /** Redis for lists, hash sets and caches; absent in the embedded scan. */
  connection?: RedisClient;
  /**
   * With `connection`: consult the fleet's lists and hash sets (the replicas a worker keeps) but
   * write nothing to its Redis, for `abuse-scan scan --fleet`. Hash-set matches are neither
   * counted (flood counters, `hashset stats` matches and suppressions) nor quarantined; entries the
   * fleet has quarantined already are passed by as a worker passes them. The unfurl cache is read,
   * never written: a result fetched from an operator's machine (its network, its DNS) is not one
   * the workers should serve. Default false (a worker).
   */
  readOnly?: boolean;
  /**
   * DANGER, code only, never configuration: literal IPs the unfurler may reach although they are
   * not public. Tests use it to reach their servers on 127.0.0.1.
   */
  allowPrivateAddressesFor?: readonly string[];
  /** Registry for the signal types' metrics (hash-set matches, quarantines); absent: not exported. */
  metricsRegistry?: Registry;
}

/** Builds the scan pipeline from the configuration: the preparers and every signal type. */
export async function createScanPipeline(config: FleetConfig, services: PipelineServices): Promise<ScanPipeline> {
  // One budget per host for the whole process, links and image URLs alike: jobs cannot add up
  // to more requests at one site than the limit.
  const hostLimiter = processHostLimiter(config.fetchesPerHost);
  // And one budget of connections per address, whatever names led there.
  const addressLimiter = processAddressLimiter(config.connectionsPerAddress);
  const unfurlOptions: UnfurlOptions = {
    maxRedirects: config.unfurlMaxRedirects,
    hopTimeoutMs: config.unfurlHopTimeoutMs,
    totalTimeoutMs: config.unfurlTotalTimeoutMs,
    ...(config.unfurlUserAgent !== undefined && { userAgent: config.unfurlUserAgent }),
    // The job's URL limit (characters): every link a job accepts is canonicalised and unfurled.
    maxUrlLength: config.maxUrlLength,
    hostLimiter,
    addressLimiter,
    ...(services.allowPrivateAddressesFor && { allowPrivateAddressesFor: services.allowPrivateAddressesFor }),
  };
  if (services.allowPrivateAddressesFor?.length) {
    services.logger.warn({ allowPrivateAddressesFor: services.allowPrivateAddressesFor }, 'UNFURL ADDRESS GUARD OVERRIDDEN: private addresses reachable (tests only)');
  }
  const registry = new SignalRegistry();
  const resources: Array<{ close(): Promise<void> | void }> = [];
  try {
    const hashSets = await openHashSetMatching({
      logger: services.logger,
      prefix: config.prefix,
      connection: services.connection,
      hashSetsDir: config.hashSetsDir,
      metricsRegistry: services.metricsRegistry,
      readOnly: services.readOnly === true,
    });
    if (hashSets) {
      registry.register(hashSets.signalType);
      resources.push(...hashSets.resources);
    }
    // ONNX models (models/manifest.json), loaded once per process and shared by its pipelines.
    const models = await openModelSignals(config);
    if (models) {
      for (const type of models.signalTypes) registry.register(type);
      resources.push(models.resource);
    }
    if (services.connection) {
      // Lists from Redis, kept current by pub/sub and a periodic version check.
      const lists = await ListReplica.start({ store: new ListStore(services.connection, { prefix: config.prefix }), logger: services.logger });
      resources.push(lists);
      registry.register(createLinkBlocklistSignalType(lists));
    } else if (config.listsDir) {
      const { matcher } = await loadListDirectory(config.listsDir, services.logger);
      registry.register(createLinkBlocklistSignalType({ current: () => matcher }));
    }
  } catch (error) {
    // What started before the failure (replicas' subscriptions and timers, model workers) would
    // otherwise keep the process up: a command that fails here must still exit.
    await Promise.allSettled(resources.map(async (resource) => resource.close()));
    throw error;
  }
  const unfurlCache = new UnfurlCache({
    prefix: config.prefix,
    ttlSeconds: config.unfurlCacheTtlSeconds,
    logger: services.logger,
    ...(services.connection && { redis: services.connection }),
    readOnly: services.readOnly === true,
  });
  services.logger.debug({ signalTypes: registry.all().map((t) => t.name) }, 'scan pipeline ready');
  return new ScanPipeline({
    preparers: [
      new LinkPreparer({ unfurl: config.unfurl, unfurlOptions, unfurlCache, maxUrlLength: config.maxUrlLength }),
      new ImagePreparer({
        source: {
          imageRoot: config.imageRoot,
          maxFileBytes: config.maxImageBytes,
          fetchImage: async (url, maxBytes, signal) => {
            const { bytes, finalUrl, redirects } = await fetchImage(url, { maxBytes, maxUrlLength: config.maxUrlLength, timeoutMs: config.imageFetchTimeoutMs, hostLimiter, addressLimiter, ...(services.allowPrivateAddressesFor && { allowPrivateAddressesFor: services.allowPrivateAddressesFor }) }, signal);
            return { bytes, finalUrl, redirects };
          },
        },
      }),
    ],
    registry,
    policy: config.policy,
    resources,
    // The embedded scan too: one job there takes as long as on a worker.
    jobTimeoutMs: config.jobTimeoutMs,
  });
}

