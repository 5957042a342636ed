/** The image's base, its one apt package and its HEALTHCHECK (README, Running workers). */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FleetMetrics } from '../../src/ops/metrics.js';
import { LIVENESS_PATH, startOpsServer } from '../../src/ops/ops-server.js';
import { REPO_ROOT } from '../harness/fleet.js';
import { closedPort } from '../harness/redis.js';

const run = promisify(execFile);

/** The Dockerfile with continuation lines joined, as docker reads its instructions. */
async function instructions(): Promise<string[]> {
  const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'));
}

describe('the Dockerfile\'s base image', () => {
  it('is one exact Node 24 release on bookworm-slim, given once (ARG) and used by both stages', async () => {
    const lines = await instructions();
    const args = lines.filter((line) => /^ARG\s+NODE_IMAGE=/.test(line));
    expect(args).toHaveLength(1);
    // Before the first FROM: only there does an ARG reach FROM lines.
    expect(lines.indexOf(args[0]!)).toBeLessThan(lines.findIndex((line) => /^FROM\s/.test(line)));
    const image = /^ARG\s+NODE_IMAGE=(\S+)$/.exec(args[0]!)?.[1];
    // An exact version, never the floating `node:24-...` or `node:lts-...`; a digest may follow.
    expect(image).toMatch(/^node:24\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    const froms = lines.filter((line) => /^FROM\s/.test(line));
    expect(froms).toEqual(['FROM ${NODE_IMAGE} AS build', 'FROM ${NODE_IMAGE}']);
  });

  it('installs apt packages at exact versions only', async () => {
    const installs = (await instructions()).filter((line) => /apt-get install/.test(line));
    expect(installs.length).toBeGreaterThan(0);
    for (const line of installs) {
      const packages = /apt-get install((?:\s+-\S+)*)\s+([^&]+)/.exec(line)?.[2]?.trim().split(/\s+/) ?? [];
      expect(packages, line).toEqual(['tini=0.19.0-1+b3']);
    }
  });
});

describe('the Dockerfile\'s HEALTHCHECK', () => {
  /** The script of the check's `node -e`, run as the image runs it, with the port in ABUSE_SCAN_METRICS_PORT. */
  async function healthcheck(port: number): Promise<number> {
    const line = (await instructions()).find((candidate) => /^HEALTHCHECK\s/.test(candidate));
    expect(line).toBeDefined();
    const script = /CMD node -e "(.*)"\s*$/.exec(line!)?.[1];
    expect(script).toBeDefined();
    try {
      await run(process.execPath, ['-e', script!], { env: { ...process.env, ABUSE_SCAN_METRICS_PORT: String(port) }, timeout: 10_000 });
      return 0;
    } catch (error) {
      return (error as { code: number }).code;
    }
  }

  it('asks the liveness path, which a worker answers while starting, cut off from Redis or draining', async () => {
    const line = (await instructions()).find((candidate) => /^HEALTHCHECK\s/.test(candidate))!;
    expect(line).toContain(`'${LIVENESS_PATH}'`);
    expect(line).not.toContain('/healthz');
    // Not ready (starting, Redis away, draining): the container is still healthy, so nothing restarts it.
    const server = await startOpsServer(new FleetMetrics(), 0, () => ({ healthy: false, reason: 'not taking jobs (shutting down)' }));
    try {
      expect(await healthcheck(server.port)).toBe(0);
    } finally {
      await server.close();
    }
    // Nothing listening (no ABUSE_SCAN_METRICS_PORT, or a process that is gone): unhealthy.
    expect(await healthcheck(await closedPort())).toBe(1);
  });
});
