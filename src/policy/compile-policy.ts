import { createHash } from 'node:crypto';
import type { Problem } from '../errors.js';
import { compileSchema } from '../schema-validator.js';
import { RuleCompileError, pointerJoin } from './compile-error.js';
import { compileMatch, type MatchSpec } from './compile-match.js';
import { normalizeHost } from './host-pattern.js';
import { claimNames } from './claim-names.js';
import { compileRule } from './compile-rule.js';
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

interface RouteJson {
  id: string;
  description?: string;
  to?: string;
  match?: MatchSpec;
  allow?: unknown;
  deny?: unknown;
  shadow?: { allow?: unknown; deny?: unknown };
  allow_path_parameters?: boolean;
}

/**
 * Parses, validates and compiles a whole policy set. Pure: the caller reads the files.
 * Any problem in any file rejects the whole set, so a half-valid set never serves.
 */
export function compilePolicy(sources: readonly PolicySource[], env: CompileEnv): CompileResult {
  const problems: Problem[] = [];
  const routes: CompiledRoute[] = [];
  const byId = new Map<string, CompiledRoute>();
  const sorted = [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  for (const src of sorted) {
    let doc: unknown;
    try {
      doc = JSON.parse(src.text);
    } catch (e) {
      problems.push({ file: src.name, pointer: '', message: `not valid JSON: ${(e as Error).message}` });
      continue;
    }
    const schemaProblems = checkPolicySchema(doc);
    if (schemaProblems.length > 0) {
      for (const p of schemaProblems) problems.push({ file: src.name, ...p });
      continue;
    }
    const list = (doc as { routes: RouteJson[] }).routes;
    list.forEach((r, i) => {
      const pointer = pointerJoin('/routes', i);
      try {
        const route: CompiledRoute = Object.freeze({
          id: r.id,
          description: r.description,
          to: r.to,
          match: compileMatch(r.match, pointerJoin(pointer, 'match')),
          allow: r.allow === undefined ? undefined : compileRule(r.allow, pointerJoin(pointer, 'allow'), env),
          deny: r.deny === undefined ? undefined : compileRule(r.deny, pointerJoin(pointer, 'deny'), env),
          shadow:
            r.shadow === undefined
              ? undefined
              : {
                  allow: r.shadow.allow === undefined ? undefined : compileRule(r.shadow.allow, pointerJoin(pointerJoin(pointer, 'shadow'), 'allow'), env),
                  deny: r.shadow.deny === undefined ? undefined : compileRule(r.shadow.deny, pointerJoin(pointerJoin(pointer, 'shadow'), 'deny'), env),
                },
          file: src.name,
          pointer,
          source: Object.freeze(r as unknown as Record<string, unknown>),
        });
        const dup = byId.get(r.id);
        if (dup) {
          problems.push({ file: src.name, pointer: pointerJoin(pointer, 'id'), message: `route id ${JSON.stringify(r.id)} is already used at ${dup.file}:${dup.pointer}` });
          return;
        }
        byId.set(r.id, route);
        routes.push(route);
      } catch (e) {
        if (e instanceof RuleCompileError) problems.push({ file: src.name, pointer: e.pointer, message: e.message });
        else throw e;
      }
    });
  }
  if (problems.length > 0) return { ok: false, problems };

  const files = sorted.map((s) => Object.freeze({ name: s.name, sha256: sha256(s.text) }));
  const hash = sha256(files.map((f) => `${f.name}\0${f.sha256}\n`).join(''));
  const hosts = new Set<string>();
  for (const r of routes) for (const h of (r.source.match as MatchSpec | undefined)?.hosts ?? []) if (!h.startsWith('*.')) hosts.add(normalizeHost(h));
  const claims = claimNames(routes.map((r) => r.source));
  return { ok: true, policy: Object.freeze({ routes: Object.freeze(routes), byId, index: new RouteIndex(routes), hash, files: Object.freeze(files), hosts, claimNames: claims }) };
}
