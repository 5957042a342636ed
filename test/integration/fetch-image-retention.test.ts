import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchImage } from '../../src/links/fetch-image.js';
import { lookupAnswering, startServer, type TestServer } from './unfurl-servers.js';

/**
 * What a fetch leaves behind once it is over: nothing. Each fetch's undici agent and DNS lookup
 * were kept for good through the deadline signal (an AbortSignal.any with a listener, which Node
 * keeps until it aborts, and whose timeout could be collected unfired): about 4 KB per image URL,
 * an image worker's heap growing until it ran out. The lookup a fetch is given stands for what
 * its agent holds: it must be collectable once the fetch has settled.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer;
beforeAll(async () => {
  server = await startServer((_req, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end('image'));
});
afterAll(async () => server.close());

describe('fetchImage keeps nothing of a finished fetch', () => {
  it("its agent and lookup are collectable once it settles, with a long-lived caller signal (a worker's)", async () => {
    const collected = new Set<number>();
    const registry = new FinalizationRegistry<number>((n) => collected.add(n));
    const workerSignal = new AbortController().signal;
    const fetches = 50;
    for (let n = 0; n < fetches; n++) {
      const { lookup } = lookupAnswering(['127.0.0.1']);
      registry.register(lookup, n);
      const image = await fetchImage(`http://images.example:${server.port}/a.png`, { maxBytes: 1024, timeoutMs: 60_000, lookup, allowPrivateAddressesFor: [`127.0.0.1:${server.port}`] }, workerSignal);
      expect(image.bytes.toString()).toBe('image');
    }
    // Finalizers run after a collection, on later turns of the event loop.
    for (let round = 0; round < 20 && collected.size < fetches - 1; round++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The last one may still sit in a register or stack slot of this function: all but one.
    expect(collected.size).toBeGreaterThanOrEqual(fetches - 1);
  }, 30_000);
});
