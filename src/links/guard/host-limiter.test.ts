import { describe, expect, it } from 'vitest';
import { ScanError } from '../../errors.js';
import { acquireFetchSlot, DEFAULT_FETCHES_PER_HOST, HostLimiter, hostKey, processHostLimiter, type HostSlot } from './host-limiter.js';

/** Whether a promise has settled, after the microtasks queued so far have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('HostLimiter', () => {
  it('grants at most `limit` slots per key; other keys are independent', async () => {
    const limiter = new HostLimiter(2);
    const a1 = await limiter.acquire('a');
    await limiter.acquire('a');
    const third = limiter.acquire('a');
    expect(await settled(third)).toBe(false);
    expect(limiter.active('a')).toBe(2);
    expect(limiter.waiting('a')).toBe(1);
    // Another host is not held up by a busy one.
    await limiter.acquire('b');
    expect(limiter.active()).toBe(3);
    a1.release();
    expect((await third).key).toBe('a');
    expect(limiter.active('a')).toBe(2);
    expect(limiter.waiting()).toBe(0);
  });

  it('hands freed slots to waiters first come, first served', async () => {
    const limiter = new HostLimiter(1);
    const first = await limiter.acquire('a');
    const order: string[] = [];
    const waiters = ['w1', 'w2', 'w3'].map((name) =>
      limiter.acquire('a').then((slot) => {
        order.push(name);
        return slot;
      }),
    );
    first.release();
    const w1 = await waiters[0]!;
    // A newcomer queues behind w2 and w3, even if it asks while a slot is being passed on.
    const late = limiter.acquire('a').then((slot) => (order.push('late'), slot));
    w1.release();
    (await waiters[1]!).release();
    (await waiters[2]!).release();
    (await late).release();
    expect(order).toEqual(['w1', 'w2', 'w3', 'late']);
    expect(limiter.hostCount).toBe(0);
  });

  it('releasing twice frees one slot only, and idle hosts are forgotten', async () => {
    const limiter = new HostLimiter(1);
    const slot = await limiter.acquire('a');
    const waiter = limiter.acquire('a');
    const behind = limiter.acquire('a');
    slot.release();
    slot.release();
    const next = await waiter;
    expect(await settled(behind)).toBe(false);
    expect(limiter.active('a')).toBe(1);
    next.release();
    (await behind).release();
    expect(limiter.active()).toBe(0);
    expect(limiter.hostCount).toBe(0);
  });

  it('releases on every way a request can end', async () => {
    const limiter = new HostLimiter(1);
    // What the fetchers do: take a slot, then release it in `finally`.
    const request = async (outcome: () => Promise<void>) => {
      const slot = await limiter.acquire('a');
      try {
        await outcome();
      } finally {
        slot.release();
      }
    };
    const outcomes = [
      async () => undefined,
      async () => Promise.reject(new ScanError('fetch_failed')),
      async () => Promise.reject(new ScanError('body_too_large')),
      async () => Promise.reject(new DOMException('timed out', 'TimeoutError')),
    ];
    const results = await Promise.allSettled(outcomes.map(request));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    expect(limiter.active()).toBe(0);
    expect(limiter.hostCount).toBe(0);
  });

  it('a waiter whose signal aborts leaves the queue at once, and the slot goes to the next', async () => {
    const limiter = new HostLimiter(1);
    const holder = await limiter.acquire('a');
    const controller = new AbortController();
    const aborted = limiter.acquire('a', controller.signal);
    const next = limiter.acquire('a');
    expect(limiter.waiting('a')).toBe(2);
    const reason = new Error('deadline');
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(limiter.waiting('a')).toBe(1);
    holder.release();
    const slot = await next;
    expect(limiter.active('a')).toBe(1);
    slot.release();
    expect(limiter.hostCount).toBe(0);
  });

  it('an aborted waiter that was the last one leaves no state behind once the holder is done', async () => {
    const limiter = new HostLimiter(1);
    const holder = await limiter.acquire('a');
    const controller = new AbortController();
    const waiting = limiter.acquire('a', controller.signal);
    controller.abort();
    await expect(waiting).rejects.toThrow();
    holder.release();
    expect(limiter.active()).toBe(0);
    expect(limiter.waiting()).toBe(0);
    expect(limiter.hostCount).toBe(0);
  });

  it('refuses an already aborted signal without taking or queueing anything', async () => {
    const limiter = new HostLimiter(1);
    await expect(limiter.acquire('a', AbortSignal.abort(new Error('late')))).rejects.toThrow('late');
    expect(limiter.active()).toBe(0);
    expect(limiter.waiting()).toBe(0);
    expect(limiter.hostCount).toBe(0);
  });

  it('an abort after the slot was granted changes nothing', async () => {
    const limiter = new HostLimiter(1);
    const holder = await limiter.acquire('a');
    const controller = new AbortController();
    const granted = limiter.acquire('a', controller.signal);
    holder.release();
    const slot: HostSlot = await granted;
    controller.abort();
    expect(limiter.active('a')).toBe(1);
    expect(limiter.waiting('a')).toBe(0);
    slot.release();
    expect(limiter.hostCount).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new HostLimiter(0)).toThrow(RangeError);
    expect(() => new HostLimiter(1.5)).toThrow(RangeError);
    expect(new HostLimiter().limit).toBe(DEFAULT_FETCHES_PER_HOST);
  });

  it('has one limiter per limit value in a process', () => {
    expect(processHostLimiter()).toBe(processHostLimiter(DEFAULT_FETCHES_PER_HOST));
    expect(processHostLimiter(3)).toBe(processHostLimiter(3));
    expect(processHostLimiter(3).limit).toBe(3);
  });
});

describe('hostKey', () => {
  it.each([
    ['victim.example', 'victim.example'],
    ['a.victim.example', 'victim.example'],
    ['b.c.victim.example', 'victim.example'],
    ['WWW.Victim.Example.', 'victim.example'],
    ['a.victim.co.uk', 'victim.co.uk'],
    // Private suffixes: each tenant is a separate site...
    ['alice.github.io', 'alice.github.io'],
    ['x.alice.github.io', 'alice.github.io'],
    // ...and a bare suffix or a single label counts as itself.
    ['github.io', 'github.io'],
    ['co.uk', 'co.uk'],
    ['intranet', 'intranet'],
    ['xn--bcher-kva.de', 'xn--bcher-kva.de'],
    ['www.xn--bcher-kva.de', 'xn--bcher-kva.de'],
  ])('%s counts as %s', (hostname, key) => {
    expect(hostKey(hostname)).toBe(key);
  });

  it.each([
    ['93.184.216.34', '93.184.216.34'],
    ['[2001:db8:1:2::1]', '2001:db8:1:2::/64'],
    ['[2001:db8:1:2:ffff:ffff:ffff:ffff]', '2001:db8:1:2::/64'],
    ['[2001:db8:1:3::1]', '2001:db8:1:3::/64'],
    // IPv6 spellings of an IPv4 address count as that address.
    ['[::ffff:5db8:d822]', '93.184.216.34'],
    ['[64:ff9b::5db8:d822]', '93.184.216.34'],
    ['[2002:5db8:d822::1]', '93.184.216.34'],
  ])('IP literal %s counts as %s', (hostname, key) => {
    expect(hostKey(hostname)).toBe(key);
  });

  it('takes a URL hostname as the URL parser gives it', () => {
    expect(hostKey(new URL('http://0x5d.0xb8.0xd8.0x22/').hostname)).toBe('93.184.216.34');
    expect(hostKey(new URL('http://A.Victim.Example:8080/').hostname)).toBe('victim.example');
  });
});

describe('acquireFetchSlot', () => {
  it('turns a wait cut by the deadline into a transient fetch_timeout naming the host', async () => {
    const limiter = new HostLimiter(1);
    const url = new URL('http://a.victim.example/page');
    const holder = await acquireFetchSlot(limiter, url, new AbortController().signal);
    const controller = new AbortController();
    const waiting = acquireFetchSlot(limiter, new URL('http://b.victim.example/other'), controller.signal);
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    const error = await waiting.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ScanError);
    expect((error as ScanError).code).toBe('fetch_timeout');
    expect((error as ScanError).permanent).toBe(false);
    expect((error as ScanError).detail).toMatchObject({ host: 'victim.example', limit: 1, cause: 'host_busy', url: 'http://b.victim.example/other' });
    holder.release();
    expect(limiter.hostCount).toBe(0);
  });

  it('keeps the reason of a wait aborted by the job (a sibling failed, a shutdown gave it up)', async () => {
    const limiter = new HostLimiter(1);
    const holder = await acquireFetchSlot(limiter, new URL('http://a.victim.example/'), new AbortController().signal);
    const job = new AbortController();
    const waiting = acquireFetchSlot(limiter, new URL('http://b.victim.example/'), AbortSignal.any([job.signal, AbortSignal.timeout(60_000)]));
    const reason = new ScanError('internal_error', 'another item of this job failed');
    job.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    holder.release();
    expect(limiter.hostCount).toBe(0);
  });
});
