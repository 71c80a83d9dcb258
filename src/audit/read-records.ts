import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

export interface ReadLine {
  readonly file: string;
  /** 1-based line number in its file. */
  readonly line: number;
  readonly text: string;
}

/**
 * The lines of audit files in the order given (oldest first), streamed: memory stays flat
 * however long the trail. Rotated files compressed by retention (`.gz`) are read as they are.
 * A file that cannot be opened or decompressed rejects the iteration with its error.
 */
export async function* readAuditLines(files: readonly string[]): AsyncGenerator<ReadLine> {
  for (const file of files) {
    const raw = createReadStream(file);
    const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
    // Errors of the raw stream (ENOENT) do not pass through pipe(): forward them.
    if (input !== raw) raw.on('error', (e) => input.destroy(e));
    let line = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      line++;
      if (text !== '') yield { file, line, text };
    }
  }
}
