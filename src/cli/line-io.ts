import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * Line-oriented input and output for the filter commands (`canonicalize`, `unfurl`): URLs from
 * the arguments, or one per line on stdin when there are none or the only one is `-`; output is
 * buffered and respects stdout's backpressure, so a million lines stream in constant memory.
 */

export function readsStdin(args: readonly string[]): boolean {
  return args.length === 0 || (args.length === 1 && args[0] === '-');
}

/** The input lines: the arguments, or stdin's lines (CRLF or LF, without the line ending). */
export async function* inputLines(args: readonly string[]): AsyncGenerator<string> {
  if (!readsStdin(args)) {
    yield* args;
    return;
  }
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) yield line;
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
