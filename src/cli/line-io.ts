import { once } from 'node:events';

/**
 * Line-oriented input and output for the filter commands (`canonicalize`, `unfurl`): URLs from
 * the arguments, or one per line on stdin when there are none or the only one is `-`; output is
 * buffered and respects stdout's backpressure, so a million lines stream in constant memory.
 */

export function readsStdin(args: readonly string[]): boolean {
  return args.length === 0 || (args.length === 1 && args[0] === '-');
}

/**
 * The input lines: the arguments, or stdin's lines. Only LF ends a line (a CR before it is
 * dropped): a bare CR stays in its line, as Safe Browsing's canonicalization removes it there, so
 * line N of the output still answers line N of the input.
 */
export async function* inputLines(args: readonly string[]): AsyncGenerator<string> {
  if (!readsStdin(args)) {
    yield* args;
    return;
  }
  let carry = Buffer.alloc(0);
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    let start = 0;
    for (let end = data.indexOf(0x0a); end !== -1; end = data.indexOf(0x0a, start)) {
      yield lineText(data.subarray(start, end));
      start = end + 1;
    }
    carry = Buffer.from(data.subarray(start));
  }
  if (carry.length) yield lineText(carry);
}

/** A line's bytes, without a final CR, as text (see bytesAsText). */
function lineText(bytes: Buffer): string {
  return bytesAsText(bytes.at(-1) === 0x0d ? bytes.subarray(0, -1) : bytes);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes as text: UTF-8 where they are UTF-8, and each byte that is not as its %XX escape, which
 * URL canonicalization reads as that very byte (a lone 0xE9 becomes %E9, not U+FFFD's %EF%BF%BD).
 */
export function bytesAsText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let text = '';
    let i = 0;
    while (i < bytes.length) {
      const length = utf8SequenceLength(bytes, i);
      if (length > 0) {
        text += Buffer.from(bytes.subarray(i, i + length)).toString('utf8');
        i += length;
      } else {
        text += `%${bytes[i]!.toString(16).toUpperCase().padStart(2, '0')}`;
        i += 1;
      }
    }
    return text;
  }
}

/** Length of the well-formed UTF-8 sequence starting at `i` (Unicode table 3-7), or 0. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const first = bytes[i]!;
  if (first < 0x80) return 1;
  const continuation = (at: number, low = 0x80, high = 0xbf) => at < bytes.length && bytes[at]! >= low && bytes[at]! <= high;
  if (first >= 0xc2 && first <= 0xdf) return continuation(i + 1) ? 2 : 0;
  if (first >= 0xe0 && first <= 0xef) {
    const [low, high] = first === 0xe0 ? [0xa0, 0xbf] : first === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return continuation(i + 1, low, high) && continuation(i + 2) ? 3 : 0;
  }
  if (first >= 0xf0 && first <= 0xf4) {
    const [low, high] = first === 0xf0 ? [0x90, 0xbf] : first === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return continuation(i + 1, low, high) && continuation(i + 2) && continuation(i + 3) ? 4 : 0;
  }
  return 0;
}

/** Batches of up to `size` input lines, for commands that work on several at once. */
export async function* inputBatches(args: readonly string[], size: number): AsyncGenerator<string[]> {
  let batch: string[] = [];
  for await (const line of inputLines(args)) {
    batch.push(line);
    if (batch.length >= size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Buffers output lines into large writes and waits for `drain` when stdout is full. */
export class LineWriter {
  private buffer = '';

  constructor(
    private readonly stream: NodeJS.WritableStream = process.stdout,
    private readonly flushAt = 64 * 1024,
  ) {}

  async line(text: string): Promise<void> {
    this.buffer += `${text}\n`;
    if (this.buffer.length >= this.flushAt) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer === '') return;
    const chunk = this.buffer;
    this.buffer = '';
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
}
