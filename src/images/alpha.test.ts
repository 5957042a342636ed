import { describe, expect, it } from 'vitest';
import { flattenOntoWhite, transparentAsWhite } from './alpha.js';

// Three pixels: opaque red, half-transparent blue, fully transparent green.
const frame = { data: Uint8Array.from([200, 0, 0, 0, 0, 200, 0, 200, 0]), alpha: Uint8Array.from([255, 128, 0]), width: 3, height: 1 };

describe('views of a frame with alpha', () => {
  it("transparentAsWhite: blockhash-core's rule, only fully transparent pixels become white", () => {
    expect([...transparentAsWhite(frame).data]).toEqual([200, 0, 0, 0, 0, 200, 255, 255, 255]);
  });

  it('flattenOntoWhite: composited onto white by alpha', () => {
    expect([...flattenOntoWhite(frame).data]).toEqual([200, 0, 0, 127, 127, 227, 255, 255, 255]);
  });

  it('opaque frames (no alpha plane) are returned as they are, and the input is never changed', () => {
    const opaque = { data: Uint8Array.from([1, 2, 3]), width: 1, height: 1 };
    expect(transparentAsWhite(opaque)).toBe(opaque);
    expect(flattenOntoWhite(opaque)).toBe(opaque);
    transparentAsWhite(frame);
    flattenOntoWhite(frame);
    expect([...frame.data]).toEqual([200, 0, 0, 0, 0, 200, 0, 200, 0]);
  });

  it('flattenOntoWhite composites a frame once, however many models read it, and again when its planes change', () => {
    const shared = { data: Uint8Array.from(frame.data), alpha: Uint8Array.from(frame.alpha), width: 3, height: 1 };
    const first = flattenOntoWhite(shared);
    expect(flattenOntoWhite(shared)).toBe(first);
    expect([...first.data]).toEqual([200, 0, 0, 127, 127, 227, 255, 255, 255]);
    // Another frame with equal pixels is its own frame; new planes on the same object are new pixels.
    expect(flattenOntoWhite({ ...shared })).not.toBe(first);
    shared.alpha = Uint8Array.from([255, 255, 255]);
    const second = flattenOntoWhite(shared);
    expect(second).not.toBe(first);
    expect([...second.data]).toEqual([200, 0, 0, 0, 0, 200, 0, 200, 0]);
  });
});
