/**
 * Where PDQ's 256 bits live, so that hashes interchange with every other PDQ implementation.
 *
 * The reference numbers the bits k = 0..255 with k = i * 16 + j for DCT coefficient (i, j),
 * keeps them in sixteen 16-bit words (word i holds row i, bit j of the word is column j) and
 * prints the words from 15 down to 0 as four hex digits each. Read as one 256-bit number in
 * that hex, bit k has weight 2^k. Our HashBytes are that number's bytes, most significant
 * first, so bit k is in byte 31 - floor(k / 8), at mask 1 << (k % 8).
 */
import type { HashBytes } from '../../matching/hash-bits.js';

export const PDQ_BITS = 256;
export const PDQ_BYTES = PDQ_BITS / 8;

export function setPdqBit(hash: HashBytes, k: number): void {
  hash[PDQ_BYTES - 1 - (k >> 3)]! |= 1 << (k & 7);
}

export function getPdqBit(hash: HashBytes, k: number): 0 | 1 {
  return ((hash[PDQ_BYTES - 1 - (k >> 3)]! >> (k & 7)) & 1) as 0 | 1;
}

/** The bit for DCT coefficient (row i, column j) of the 16x16 block. */
export const pdqBitIndex = (i: number, j: number): number => i * 16 + j;
