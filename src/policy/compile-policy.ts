import { createHash } from 'node:crypto';
import type { Problem } from '../errors.js';
import { compileSchema } from '../schema-validator.js';
import { RuleCompileError, pointerJoin } from './compile-error.js';
import { compileMatch, type MatchSpec } from './compile-match.js';
import { normalizeHost } from './host-pattern.js';
import { claimNames } from './claim-names.js';
import { compileRule, type SharedRules } from './compile-rule.js';
import { RouteIndex } from './index/route-index.js';
import type { CompileEnv } from './criteria/criterion.js';
import type { CompiledRoute, PolicySet } from './policy-set.js';
import { policySchema } from './schema.js';

export interface PolicySource {
  /** Name shown in problems (path relative to where the user pointed). */
  readonly name: string;
  readonly text: string;
}

export type CompileResult = { ok: true; policy: PolicySet } | { ok: false; problems: Problem[] };

const checkPolicySchema = compileSchema(policySchema());

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export interface RouteJson {
  id: string;
  description?: string;
  to?: string;
  match?: MatchSpec;
  allow?: unknown;
  deny?: unknown;
  shadow?: { allow?: unknown; deny?: unknown };
  allow_path_parameters?: boolean;
  issuers?: string[];
}

/**
 * One policy file after parsing and schema validation: its routes, or its problems.
 * Plain data, so a worker thread can produce it and hand it over (policy-store).
 */
export interface ParsedFile {
  readonly name: string;
  readonly sha256: string;
  readonly routes?: readonly RouteJson[];
  /**
   * The routes as JSON texts of consecutive slices, parsed one at a time while compiling
   * (how a worker hands them over: cloning a string is a copy, cloning objects is not).
   */
  readonly routeChunks?: readonly string[];
  readonly problems?: readonly Problem[];
}

function folderRelative(name: string): string {
  return name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
}

function* routeSlices(file: ParsedFile): Generator<readonly RouteJson[], void, void> {
  if (file.routes) yield file.routes;
  for (const chunk of file.routeChunks ?? []) yield JSON.parse(chunk) as RouteJson[];
}

/** Parses and schema-checks every file, in name order (the order routes are tried in). */
export function parseSources(sources: readonly PolicySource[]): ParsedFile[] {
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted.map((src) => {
    const digest = sha256(src.text);
    let doc: unknown;
    try {
      doc = JSON.parse(src.text);
    } catch (e) {
      return { name: src.name, sha256: digest, problems: [{ file: src.name, pointer: '', message: `not valid JSON: ${(e as Error).message}` }] };
    }
    const schemaProblems = checkPolicySchema(doc);
    if (schemaProblems.length > 0) return { name: src.name, sha256: digest, problems: schemaProblems.map((p) => ({ file: src.name, ...p })) };
    return { name: src.name, sha256: digest, routes: (doc as { routes: RouteJson[] }).routes };
  });
}

function compileRoute(r: RouteJson, file: string, pointer: string, env: CompileEnv, shared: SharedRules): CompiledRoute {
  return Object.freeze({
    id: r.id,
    description: r.description,
    to: r.to,
    match: compileMatch(r.match, pointerJoin(pointer, 'match')),
    allow: r.allow === undefined ? undefined : compileRule(r.allow, pointerJoin(pointer, 'allow'), env, undefined, shared),
    deny: r.deny === undefined ? undefined : compileRule(r.deny, pointerJoin(pointer, 'deny'), env, undefined, shared),
    issuers: r.issuers === undefined ? undefined : new Set(r.issuers),
    shadow:
      r.shadow === undefined
        ? undefined
        : {
            allow: r.shadow.allow === undefined ? undefined : compileRule(r.shadow.allow, pointerJoin(pointerJoin(pointer, 'shadow'), 'allow'), env, undefined, shared),
            deny: r.shadow.deny === undefined ? undefined : compileRule(r.shadow.deny, pointerJoin(pointerJoin(pointer, 'shadow'), 'deny'), env, undefined, shared),
          },
    file,
    pointer,
    source: Object.freeze(r as unknown as Record<string, unknown>),
  });
}

/**
 * Compiles parsed files one route per step, so that a caller on the serving thread can
 * pause between steps (policy-store compiles a reload in slices of a few milliseconds).
 * Any problem in any file rejects the whole set, so a half-valid set never serves.
 */
export function* compileSteps(files: readonly ParsedFile[], env: CompileEnv): Generator<void, CompileResult, void> {
  const problems: Problem[] = [];
  const routes: CompiledRoute[] = [];
  const byId = new Map<string, CompiledRoute>();
  const index = new RouteIndex();
  const hosts = new Set<string>();
  const claimSet = new Set<string>();
  const shared: SharedRules = new Map();
  for (const file of files) {
    if (file.problems) {
      problems.push(...file.problems);
      continue;
    }
    let i = -1;
    for (const list of routeSlices(file)) for (const r of list) {
      i++;
      const pointer = pointerJoin('/routes', i);
      try {
        const route = compileRoute(r, file.name, pointer, env, shared);
        const dup = byId.get(r.id);
        if (dup) {
          problems.push({ file: file.name, pointer: pointerJoin(pointer, 'id'), message: `route id ${JSON.stringify(r.id)} is already used at ${dup.file}:${dup.pointer}` });
        } else {
          byId.set(r.id, route);
          index.add(route, routes.length);
          routes.push(route);
          for (const h of r.match?.hosts ?? []) if (!h.startsWith('*.')) hosts.add(normalizeHost(h));
          for (const c of claimNames([route.source])) claimSet.add(c);
        }
      } catch (e) {
        if (e instanceof RuleCompileError) problems.push({ file: file.name, pointer: e.pointer, message: e.message });
        else throw e;
      }
      yield;
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  // Names relative to the policy folder (its files are direct children: the base name), so the
  // same folder hashes the same from any working directory (CI, the server, a laptop).
  const fileList = files.map((f) => Object.freeze({ name: folderRelative(f.name), sha256: f.sha256 }));
  const hash = sha256(fileList.map((f) => `${f.name}\0${f.sha256}\n`).join(''));
  index.seal(routes);
  const claims = Object.freeze([...claimSet].sort());
  return { ok: true, policy: Object.freeze({ routes: Object.freeze(routes), byId, index, hash, files: Object.freeze(fileList), hosts, claimNames: claims }) };
}

/** Runs steps to the end without pausing. */
export function runSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Parses, validates and compiles a whole policy set. Pure: the caller reads the files. */
export function compilePolicy(sources: readonly PolicySource[], env: CompileEnv): CompileResult {
  return runSteps(compileSteps(parseSources(sources), env));
}
