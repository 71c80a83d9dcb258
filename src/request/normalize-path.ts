export type PathResult =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly detail: string };

const HEX = '0123456789ABCDEF';

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

function isUnreserved(b: number): boolean {
  return (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (b >= 48 && b <= 57) || b === 45 || b === 46 || b === 95 || b === 126;
}

/**
 * The common case, checked in one pass: only plain characters, no `%`, no `//`, and no
 * segment starting with a dot. Such a path is its own normal form.
 */
function isAlreadyNormal(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 37 /* % */ || c === 92 /* \ */ || c === 35 /* # */ || c === 59 /* ; */) return false;
    if (c === 47 /* / */) {
      const next = p.charCodeAt(i + 1);
      if (next === 47 || next === 46 /* . */) return false;
    }
  }
  return true;
}

/**
 * RFC 3986 path normalization as policies see it: split off the query, decode
 * percent-encoded unreserved characters (other escapes stay, upper-cased), merge
 * repeated slashes, resolve `.` and `..`. Anything an upstream could read as a
 * different path than the policy saw is refused instead of guessed at: a dot segment
 * carrying path parameters (`..;x`, `.;`), which Tomcat, Jetty and Spring resolve after
 * stripping the parameter, is refused here; other `;` parameters are refused by route
 * (see path-parameters.ts in src/policy).
 * Never uses WHATWG URL: it would read `//admin` as a host.
 */
export function normalizePath(raw: string): PathResult {
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  if (!pathPart.startsWith('/')) return { ok: false, detail: 'path does not start with /' };
  if (isAlreadyNormal(pathPart)) return { ok: true, path: pathPart, query };

  let decoded = '';
  // Consecutive escaped bytes: a multi-byte character must be whole, valid UTF-8 within one run.
  let run: number[] = [];
  let runHigh = false;
  for (let i = 0; i < pathPart.length; i++) {
    const c = pathPart.charCodeAt(i);
    if (c !== 37 && run.length > 0) {
      if (runHigh && !isUtf8(run)) return { ok: false, detail: NOT_UTF8 };
      run = [];
      runHigh = false;
    }
    if (c === 37 /* % */) {
      const hi = i + 2 < pathPart.length ? hexValue(pathPart.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(pathPart.charCodeAt(i + 2)) : -1;
      if (lo < 0) return { ok: false, detail: 'invalid percent-encoding' };
      const b = hi * 16 + lo;
      if (b === 0x2f || b === 0x5c) return { ok: false, detail: 'encoded slash or backslash' };
      if (b === 0) return { ok: false, detail: 'encoded NUL' };
      run.push(b);
      if (b >= 0x80) runHigh = true;
      decoded += isUnreserved(b) ? String.fromCharCode(b) : `%${HEX[hi]}${HEX[lo]}`;
      i += 2;
    } else if (c === 92 /* \ */) {
      return { ok: false, detail: 'backslash in path' };
    } else if (c <= 0x20 || c === 0x7f) {
      return { ok: false, detail: c === 0 ? 'NUL in path' : 'control character or space in path' };
    } else if (c === 35 /* # */) {
      return { ok: false, detail: 'fragment in path' };
    } else {
      decoded += pathPart[i];
    }
  }
  if (runHigh && !isUtf8(run)) return { ok: false, detail: NOT_UTF8 };

  const segments = decoded.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (isDotWithParameters(seg)) return { ok: false, detail: 'dot segment with path parameters (;)' };
    if (seg === '' || seg === '.') {
      trailingSlash = last;
    } else if (seg === '..') {
      if (out.length === 0) return { ok: false, detail: 'path climbs above /' };
      out.pop();
      trailingSlash = last;
    } else {
      out.push(seg);
      trailingSlash = false;
    }
  }
  const path = out.length === 0 ? '/' : `/${out.join('/')}${trailingSlash ? '/' : ''}`;
  return { ok: true, path, query };
}

const NOT_UTF8 = 'percent-encoded bytes that are not valid UTF-8 (overlong or invalid)';
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Overlong forms (`%C0%AE` for `.`), surrogates and stray bytes: some servers still decode
 * them to ASCII, so a path carrying them could mean `..` or `/` upstream.
 */
function isUtf8(bytes: number[]): boolean {
  try {
    UTF8.decode(Uint8Array.from(bytes));
    return true;
  } catch {
    return false;
  }
}

/** The start of a segment's `;` parameters (also encoded, `%3B`), or -1. */
export function parameterStart(segment: string): number {
  const a = segment.indexOf(';');
  const b = segment.indexOf('%3B');
  return a < 0 ? b : b < 0 ? a : Math.min(a, b);
}

/** `..;x`, `.;`, `%2e%2e;jsessionid=1` (already decoded to `..;…` here). */
function isDotWithParameters(segment: string): boolean {
  const at = parameterStart(segment);
  if (at < 0) return false;
  const name = segment.slice(0, at);
  return name === '.' || name === '..';
}

/**
 * Why a policy's path literal (a route's `path`/`path_prefix`, an `http_path` literal) can
 * never equal, or start, a normalized request path, or undefined when it can. Policies see
 * normalized paths only: a literal such as `/%7Ealice` (requests carry `/~alice`),
 * `/caf%c3%a9` (escapes are upper-cased), `/a//b`, `/a/../b` or `/a?b` never matches, and
 * a route or deny written with it silently lets those requests through to a later route.
 * A prefix may end inside a segment or an escape (`/a%2` starts `/a%20`).
 */
export function pathLiteralProblem(literal: string, prefix: boolean): string | undefined {
  let probe = literal;
  if (prefix) {
    // Escapes of a multi-byte character (or a lone `%`, `%C`) the prefix may end inside of.
    const partial = /(?:%[89A-Fa-f][0-9A-Fa-f])*(?:%[0-9A-Fa-f]?)?$/.exec(literal)!;
    if (/[a-f]/.test(partial[0])) return 'never matches: request paths carry upper-case percent-escapes';
    probe = `${literal.slice(0, partial.index)}x`;
  }
  const n = normalizePath(probe);
  if (!n.ok) return `never matches: requests with such a path are refused (${n.detail})`;
  if (n.path !== probe || probe.includes('?')) {
    const fixed = prefix ? n.path.slice(0, -1) : n.path;
    return `never matches: policies see the normalized path${probe.includes('?') ? ' without its query' : `; write ${JSON.stringify(fixed)}`}`;
  }
  return undefined;
}
