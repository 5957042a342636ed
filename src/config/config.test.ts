import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_JOB_LIMITS } from '../jobs/limits.js';
import { jobLimits, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('has documented defaults for everything', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      redisUrl: 'redis://127.0.0.1:6379',
      prefix: '{abuse-scan}',
      queues: ['links', 'images'],
      concurrency: 16,
      lockDurationMs: 30_000,
      maxStalledCount: 2,
      unfurl: true,
      shutdownTimeoutMs: 60_000,
      logLevel: 'info',
    });
    expect(loadConfig({ ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '5000' }).shutdownTimeoutMs).toBe(5000);
    expect(config.imageRoot).toBeUndefined();
    expect(config.policy.defaultErrorDecision).toBe('review');
  });

  it('takes an unfurl User-Agent of printable ASCII, and refuses one a header cannot carry', () => {
    expect(loadConfig({}).unfurlUserAgent).toBeUndefined();
    expect(loadConfig({ ABUSE_SCAN_UNFURL_USER_AGENT: 'Mozilla/5.0 (X11; Linux x86_64) ExampleScanner/1.0' }).unfurlUserAgent).toBe('Mozilla/5.0 (X11; Linux x86_64) ExampleScanner/1.0');
    for (const bad of ['a\u0001b', 'caf\u00e9', ' leading', 'x'.repeat(513)]) {
      expect(() => loadConfig({ ABUSE_SCAN_UNFURL_USER_AGENT: bad }), JSON.stringify(bad)).toThrow(/ABUSE_SCAN_UNFURL_USER_AGENT/);
    }
  });

  it('reads the environment, and flags override it', () => {
    const env = { REDIS_URL: 'redis://redis.internal:6380/2', ABUSE_SCAN_QUEUES: 'images', ABUSE_SCAN_CONCURRENCY: '4', ABUSE_SCAN_UNFURL: 'off' };
    expect(loadConfig(env)).toMatchObject({ redisUrl: 'redis://redis.internal:6380/2', queues: ['images'], concurrency: 4, unfurl: false });
    expect(loadConfig(env, { concurrency: '9', queues: 'links, images' })).toMatchObject({ concurrency: 9, queues: ['links', 'images'] });
  });

  it('gives workers the job limits of the environment, the shared defaults when unset', () => {
    expect(jobLimits(loadConfig({}))).toBe(DEFAULT_JOB_LIMITS);
    expect(jobLimits(loadConfig({ ABUSE_SCAN_MAX_ITEMS: '200', ABUSE_SCAN_MAX_INLINE_BYTES: '1048576' }))).toEqual({
      ...DEFAULT_JOB_LIMITS,
      maxItems: 200,
      maxInlineBytes: 1_048_576,
    });
  });

  it('gives workers the metadata and whole-job limits of the environment', () => {
    const env = { ABUSE_SCAN_MAX_METADATA_KEYS: '8', ABUSE_SCAN_MAX_METADATA_KEY_LENGTH: '32', ABUSE_SCAN_MAX_METADATA_BYTES: '2048', ABUSE_SCAN_MAX_JOB_BYTES: '1048576' };
    expect(jobLimits(loadConfig(env))).toEqual({ ...DEFAULT_JOB_LIMITS, maxMetadataKeys: 8, maxMetadataKeyLength: 32, maxMetadataBytes: 2048, maxJobBytes: 1_048_576 });
    expect(DEFAULT_JOB_LIMITS).toMatchObject({ maxMetadataKeys: 64, maxMetadataKeyLength: 128, maxMetadataBytes: 16_384, maxJobBytes: 32 * 1024 * 1024 });
  });

  it('refuses delays longer than Node keeps a timer (they would fire after 1 ms), naming them all', () => {
    const tooLong = '3000000000';
    const names = ['ABUSE_SCAN_LOCK_MS', 'ABUSE_SCAN_STALLED_INTERVAL_MS', 'ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS', 'ABUSE_SCAN_UNFURL_HOP_TIMEOUT_MS', 'ABUSE_SCAN_UNFURL_TOTAL_TIMEOUT_MS', 'ABUSE_SCAN_IMAGE_FETCH_TIMEOUT_MS', 'ABUSE_SCAN_JOB_TIMEOUT_MS'];
    const error = (() => {
      try {
        loadConfig(Object.fromEntries(names.map((name) => [name, tooLong])));
      } catch (thrown) {
        return thrown as Error;
      }
      return undefined;
    })();
    for (const name of names) expect(error?.message).toMatch(new RegExp(`\\n  ${name}: must be at most 2147483647 ms`));
    expect(loadConfig({ ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: String(2 ** 31 - 1) }).shutdownTimeoutMs).toBe(2 ** 31 - 1);
  });

  it('ABUSE_SCAN_JOB_TIMEOUT_MS: 45 s by default, inside the default shutdown timeout; a positive number of ms, refused by name otherwise', () => {
    const defaults = loadConfig({});
    expect(defaults.jobTimeoutMs).toBe(45_000);
    // A drain must outlast a job started right before it, with time left to store its verdict.
    expect(defaults.jobTimeoutMs).toBeLessThan(defaults.shutdownTimeoutMs);
    // Above one item's own deadlines: a lone slow item keeps its fetch_timeout.
    expect(defaults.jobTimeoutMs).toBeGreaterThan(Math.max(defaults.unfurlTotalTimeoutMs, defaults.imageFetchTimeoutMs));
    expect(loadConfig({ ABUSE_SCAN_JOB_TIMEOUT_MS: '1500' }).jobTimeoutMs).toBe(1500);
    // Not refused nor changed when it is not below the shutdown timeout (the worker warns at start).
    expect(loadConfig({ ABUSE_SCAN_JOB_TIMEOUT_MS: '90000', ABUSE_SCAN_SHUTDOWN_TIMEOUT_MS: '5000' })).toMatchObject({ jobTimeoutMs: 90_000, shutdownTimeoutMs: 5000 });
    for (const value of ['0', '-1', '1.5', 'soon', '3000000000']) {
      expect(() => loadConfig({ ABUSE_SCAN_JOB_TIMEOUT_MS: value }), value).toThrow(/^invalid configuration:\n {2}ABUSE_SCAN_JOB_TIMEOUT_MS: /);
    }
  });

  it('takes each queue once', () => {
    expect(loadConfig({ ABUSE_SCAN_QUEUES: 'links,links, images,links' }).queues).toEqual(['links', 'images']);
  });

  it('refuses, on a Redis Cluster, a prefix without a hash tag (every BullMQ script would fail with CROSSSLOT)', () => {
    for (const prefix of ['abuse-scan', 'abuse{}scan', 'abuse-scan}{']) {
      expect(() => loadConfig({ REDIS_URL: 'redis-cluster://10.0.0.1:7000', ABUSE_SCAN_PREFIX: prefix })).toThrow(/\n  ABUSE_SCAN_PREFIX: .*has no hash tag: on a Redis Cluster ABUSE_SCAN_PREFIX needs one, such as \{abuse-?scan\}/);
    }
    expect(loadConfig({ REDIS_URL: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000', ABUSE_SCAN_PREFIX: 'team-{abuse}' }).prefix).toBe('team-{abuse}');
    // One Redis: any prefix.
    expect(loadConfig({ ABUSE_SCAN_PREFIX: 'abuse-scan' }).prefix).toBe('abuse-scan');
  });

  it('loads the decision policy from a JSON file', () => {
    const file = join(tmpdir(), `policy-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ maxDecisionBySource: { model: 'review' } }));
    expect(loadConfig({ ABUSE_SCAN_POLICY_FILE: file }).policy.maxDecisionBySource).toEqual({ model: 'review' });
    // Blank is unset, as for every variable: not a file named ' '.
    expect(loadConfig({ ABUSE_SCAN_POLICY_FILE: ' ' }).policy).toEqual(loadConfig({}).policy);
  });

  it('names the policy file when it is a directory (a ConfigMap mounted without subPath), as when it is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-dir-'));
    expect(() => loadConfig({ ABUSE_SCAN_POLICY_FILE: dir })).toThrow(expect.objectContaining({ code: 'EISDIR', path: dir }));
  });

  it('reads REDIS_URL as the connection does: a comma in a password keeps one node', () => {
    for (const url of ['redis://:s3cr,et@127.0.0.1:6379', 'rediss://user:a,b,c@redis.internal:6380/2']) {
      expect(loadConfig({ REDIS_URL: url }).redisUrl).toBe(url);
    }
    // A cluster's credentials come from its userinfo, commas and all; its nodes are still listed.
    for (const url of ['redis-cluster://u:pa,ss@10.0.0.1:7000,10.0.0.2:7000', 'redis://u:pa,ss@10.0.0.1:7000,redis://10.0.0.2:7000']) {
      expect(loadConfig({ REDIS_URL: url }).redisUrl).toBe(url);
    }
    for (const url of ['not a url', 'redis://10.0.0.1:7000,bad host:7000', 'redis-cluster://u:pa,ss@10.0.0.1:7000,bad host']) {
      expect(() => loadConfig({ REDIS_URL: url }), url).toThrow(/\n {2}REDIS_URL: /);
    }
    // The message never quotes the URL: it may hold a password.
    expect(() => loadConfig({ REDIS_URL: 'redis-cluster://u:pa,ss@10.0.0.1:7000,bad host' })).not.toThrow(/pa,ss/);
  });

  it('ABUSE_SCAN_MAX_IMAGE_BYTES: 20 MiB by default, up to the decoder\'s 50 MiB', () => {
    expect(loadConfig({}).maxImageBytes).toBe(20 * 1024 * 1024);
    expect(loadConfig({ ABUSE_SCAN_MAX_IMAGE_BYTES: String(50 * 1024 * 1024) }).maxImageBytes).toBe(50 * 1024 * 1024);
    for (const value of ['0', '-1', '1.5', 'lots', String(50 * 1024 * 1024 + 1)]) {
      expect(() => loadConfig({ ABUSE_SCAN_MAX_IMAGE_BYTES: value }), value).toThrow(/\n {2}ABUSE_SCAN_MAX_IMAGE_BYTES: /);
    }
  });

  it('ABUSE_SCAN_LOCK_MS: at least 1000 ms; a few ms (meant as seconds) is refused, since every job would stall', () => {
    for (const value of ['30', '20', '999']) {
      expect(() => loadConfig({ ABUSE_SCAN_LOCK_MS: value }), value).toThrow(/^invalid configuration:\n {2}ABUSE_SCAN_LOCK_MS: must be at least 1000 ms \(it is in milliseconds: 30 s is 30000\)/);
    }
    expect(loadConfig({ ABUSE_SCAN_LOCK_MS: '1000' }).lockDurationMs).toBe(1000);
    expect(loadConfig({}, { lockDurationMs: 1000 }).lockDurationMs).toBe(1000);
  });

  it('a variable set blank is unset, as an empty one is (blank read as a number was 0)', () => {
    const blank = { ABUSE_SCAN_UNFURL_MAX_REDIRECTS: ' ', ABUSE_SCAN_MAX_STALLED: '  ', ABUSE_SCAN_UNFURL_CACHE_TTL_S: '\t', ABUSE_SCAN_METRICS_PORT: ' ', ABUSE_SCAN_CONCURRENCY: '\n' };
    const config = loadConfig(blank);
    expect(config).toMatchObject({ unfurlMaxRedirects: 10, maxStalledCount: 2, unfurlCacheTtlSeconds: 300, concurrency: 16 });
    expect(config.metricsPort).toBeUndefined();
    // A flag given blank is no number.
    expect(() => loadConfig({}, { metricsPort: ' ' })).toThrow(/\n {2}--metrics-port: must be a whole number/);
  });

  it('reads numbers as whole decimal numbers only, surrounding blanks aside', () => {
    expect(loadConfig({ ABUSE_SCAN_METRICS_PORT: ' 9464 ', ABUSE_SCAN_MAX_STALLED: '0', ABUSE_SCAN_CONCURRENCY: '08' })).toMatchObject({ metricsPort: 9464, maxStalledCount: 0, concurrency: 8 });
    for (const value of ['0x50', '1e3', '+5', '5.0', '1_000', '0b1', 'Infinity', '5 5']) {
      expect(() => loadConfig({ ABUSE_SCAN_METRICS_PORT: value }), value).toThrow(new RegExp(`^invalid configuration:\\n {2}ABUSE_SCAN_METRICS_PORT: must be a whole number, not ${JSON.stringify(value).replace(/[+.]/g, '\\$&')}$`));
      expect(() => loadConfig({ ABUSE_SCAN_UNFURL_MAX_REDIRECTS: value }), value).toThrow(/\n {2}ABUSE_SCAN_UNFURL_MAX_REDIRECTS: must be a whole number/);
    }
    // A negative is read, and refused by its range.
    expect(() => loadConfig({ ABUSE_SCAN_MAX_STALLED: '-1' })).toThrow(/\n {2}ABUSE_SCAN_MAX_STALLED: Too small/);
  });

  it('REDIS_URL: only Redis schemes, host:port and socket paths; the database a whole number', () => {
    const refused: Array<[string, RegExp]> = [
      ['tcp://127.0.0.1:6379', /tcp:\/\/ is not a Redis URL/],
      ['http://127.0.0.1:6379', /http:\/\/ is not a Redis URL/],
      ['unix:///var/run/redis.sock', /unix:\/\/ is not a Redis URL/],
      ['//127.0.0.1:6379', /without a scheme is not a Redis URL/],
      ['redis://127.0.0.1:6379?db=abc', /db parameter of a Redis URL must be a whole number/],
      ['redis://127.0.0.1:6379?db=1x', /db parameter/],
      ['redis://127.0.0.1:6379/?db=', /db parameter/],
      ['redis://127.0.0.1:6379?db=-1', /db parameter/],
      ['/var/run/redis.sock?db=two', /db parameter/],
      ['127.0.0.1:6379?db=0x1', /db parameter/],
      ['127.0.0.1:6379/2', /a database number needs the redis:\/\/ scheme/],
    ];
    for (const [url, message] of refused) expect(() => loadConfig({ REDIS_URL: url }), url).toThrow(message);
    // Never quoting the URL: it may hold a password.
    expect(() => loadConfig({ REDIS_URL: 'tcp://:s3cret@127.0.0.1:6379' })).not.toThrow(/s3cret/);
    for (const url of ['redis://127.0.0.1:6379?db=2', 'rediss://h:6380/3?db=3', 'redis://h:6379/99', '/var/run/redis.sock?db=2', '127.0.0.1:6379', 'localhost', ' redis://h ', '6379', '[::1]:6379', 'redis://h,redis://i', 'h:7000,i:7000']) {
      expect(loadConfig({ REDIS_URL: url }).redisUrl, url).toBe(url);
    }
  });

  it('names every invalid setting in one error', () => {
    expect(() => loadConfig({ ABUSE_SCAN_QUEUES: 'links,videos', ABUSE_SCAN_CONCURRENCY: '-1', REDIS_URL: 'not a url' })).toThrow(
      /invalid configuration:\n(.|\n)*REDIS_URL(.|\n)*ABUSE_SCAN_QUEUES(.|\n)*ABUSE_SCAN_CONCURRENCY/,
    );
  });
});
