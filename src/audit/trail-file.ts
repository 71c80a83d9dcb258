import { existsSync, fstatSync, ftruncateSync, readdirSync, readFileSync, readSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { ChainHead } from './chain.js';
import type { AuditRecord } from './record.js';

/** `audit.jsonl` → `audit.2026-11-23T20-18-16.123Z.jsonl`: names sort in time order. */
export function rotatedName(path: string, at: Date): string {
  const ext = extname(path);
  return `${path.slice(0, path.length - ext.length)}.${at.toISOString().replaceAll(':', '-')}${ext}`;
}

/**
 * A rotated name no file has yet (plain or compressed): two rotations in one millisecond
 * (a batch and the checkpoint right after it) got the same name, and the second rename
 * replaced the first file, records answered long ago included. The later file gets the
 * next free millisecond, so names still sort in chain order.
 */
export function freeRotatedName(path: string, atMs: number): string {
  for (let at = atMs; ; at++) {
    const name = rotatedName(path, new Date(at));
    if (!existsSync(name) && !existsSync(`${name}.gz`)) return name;
  }
}

/** Rotated files of `path` (plain or gzip-compressed by retention), oldest first, with the time in their name. */
export function rotatedFiles(path: string): { file: string; at: number }[] {
  const dir = dirname(path);
  const ext = extname(path);
  const stem = basename(path, ext);
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^${esc(stem)}\\.(\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}Z)${esc(ext)}(\\.gz)?$`);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { file: string; at: number }[] = [];
  for (const name of names) {
    const m = re.exec(name);
    if (!m) continue;
    const at = Date.parse(m[1]!.replace(/T(\d{2})-(\d{2})-(\d{2})/, 'T$1:$2:$3'));
    if (!Number.isNaN(at)) out.push({ file: join(dir, name), at });
  }
  return out.sort((a, b) => a.at - b.at || a.file.localeCompare(b.file));
}

function headOf(text: string): ChainHead | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (l === '') continue;
    try {
      const r = JSON.parse(l) as AuditRecord;
      if (typeof r.seq === 'number' && typeof r.hash === 'string') return { seq: r.seq, hash: r.hash };
    } catch {
      // a torn line: look further up
    }
  }
  return undefined;
}

/**
 * The chain head at the end of an open live file, to continue its chain after a restart. A
 * partial last line (the process died inside a write) is cut off first: in sync mode no
 * answer went out for it, and left in place it would break the chain for good.
 */
export function headOfOpenFile(fd: number): ChainHead | undefined {
  let size = fstatSync(fd).size;
  if (size === 0) return undefined;
  const len = Math.min(size, 1024 * 1024);
  const buf = Buffer.alloc(len);
  readSync(fd, buf, 0, len, size - len);
  if (buf[len - 1] !== 0x0a) {
    const cut = buf.lastIndexOf(0x0a);
    size = size - len + cut + 1;
    ftruncateSync(fd, size);
    if (size === 0) return undefined;
  }
  return headOf(buf.subarray(0, buf.lastIndexOf(0x0a) + 1).toString('utf8'));
}

/**
 * Where the chain goes on when the live file is empty or was missing: the last record of the
 * newest rotated file (an operator or logrotate moved the live file away while Verdict was
 * stopped, or a rotation found it gone).
 */
export function headOfRotated(path: string): { head: ChainHead; file: string } | undefined {
  for (const { file } of rotatedFiles(path).reverse()) {
    try {
      const raw = readFileSync(file);
      const head = headOf((file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8'));
      if (head) return { head, file };
    } catch {
      // unreadable: try the one before
    }
  }
  return undefined;
}

/** Rotated files older than `retentionMs` are deleted or gzip-compressed. */
export function applyRetention(path: string, retentionMs: number, action: 'delete' | 'compress'): void {
  const now = Date.now();
  for (const { file, at } of rotatedFiles(path)) {
    if (file.endsWith('.gz') || now - at < retentionMs) continue;
    if (action === 'compress') writeFileSync(`${file}.gz`, gzipSync(readFileSync(file)));
    unlinkSync(file);
  }
}
