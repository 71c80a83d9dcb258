import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readAuditLines } from '../../../src/audit/read-records.js';
import { tempDir } from '../../helpers/tmp.js';

async function collect(files: string[], max?: number) {
  const out: { line: number; text: string }[] = [];
  for await (const { line, text } of readAuditLines(files, max)) out.push({ line, text });
  return out;
}

describe('readAuditLines', () => {
  it('reads plain and .gz files line by line: CRLF, empty lines skipped, multi-byte text, no final newline', async () => {
    const t = tempDir();
    const body = '{"a":1}\r\n\n{"b":"日本ü"}\n{"c":3}';
    const plain = join(t.dir, 'a.jsonl');
    const gz = join(t.dir, 'b.jsonl.gz');
    writeFileSync(plain, body);
    writeFileSync(gz, gzipSync(Buffer.from(body)));
    const expected = [
      { line: 1, text: '{"a":1}' },
      { line: 3, text: '{"b":"日本ü"}' },
      { line: 4, text: '{"c":3}' },
    ];
    assert.deepEqual(await collect([plain]), expected);
    assert.deepEqual(await collect([gz]), expected);
  });

  it('lines longer than a read chunk come back whole', async () => {
    const t = tempDir();
    const long = `{"x":"${'é'.repeat(200_000)}"}`;
    const file = join(t.dir, 'long.jsonl');
    writeFileSync(file, `${long}\n{"y":1}\n`);
    const lines = await collect([file]);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]!.text, long);
  });

  it('a small .gz inflating to one endless line is refused with a clear error, not read into memory', async () => {
    const t = tempDir();
    const bomb = join(t.dir, 'bomb.jsonl.gz');
    writeFileSync(bomb, gzipSync(Buffer.alloc(4 * 1024 * 1024, 'a')));
    await assert.rejects(collect([bomb], 64 * 1024), /bomb\.jsonl\.gz: line 1 is longer than 65536 bytes/);
    // The bound is on one line, not the file: many short lines pass.
    const many = join(t.dir, 'many.jsonl.gz');
    writeFileSync(many, gzipSync(Buffer.from('{"n":1}\n'.repeat(100_000))));
    assert.equal((await collect([many], 64 * 1024)).length, 100_000);
  });
});
