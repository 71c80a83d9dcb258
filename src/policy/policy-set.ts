import type { CompiledMatch } from './compile-match.js';
import type { CompiledRule } from './compile-rule.js';
import type { RouteIndex } from './index/route-index.js';

export interface CompiledRoute {
  readonly id: string;
  readonly description: string | undefined;
  readonly to: string | undefined;
  readonly match: CompiledMatch | undefined;
  readonly allow: CompiledRule | undefined;
  readonly deny: CompiledRule | undefined;
  /** The route's `issuers`: only their identities match its identity criteria (else the default). */
  readonly issuers?: ReadonlySet<string> | undefined;
  /** A dry-run policy, evaluated beside the real one and audited, never enforced. */
  readonly shadow: { readonly allow: CompiledRule | undefined; readonly deny: CompiledRule | undefined } | undefined;
  /** Where the route came from, for operators. */
  readonly file: string;
  readonly pointer: string;
  /** The route's source JSON, for change detection on reload and for config generation. */
  readonly source: Readonly<Record<string, unknown>>;
}

/** An immutable, compiled policy set: the unit that is swapped atomically on reload. */
export interface PolicySet {
  readonly routes: readonly CompiledRoute[];
  readonly byId: ReadonlyMap<string, CompiledRoute>;
  /** Finds the first route whose `match` accepts a request, in `routes` order. */
  readonly index: RouteIndex;
  /** sha256 over the file names and contents, hex. */
  readonly hash: string;
  readonly files: readonly { readonly name: string; readonly sha256: string }[];
  /** Every exact host named in a route's `match.hosts`: Verdict's own hosts for login callbacks. */
  readonly hosts: ReadonlySet<string>;
  /** Claims the `claim` criterion reads anywhere in the set: audited so replay can decide again. */
  readonly claimNames: readonly string[];
}
