import type { EvalContext } from '../context.js';
/**
 * Load-time settings a criterion may need beyond its argument. Empty today: regexes
 * need no outside check since they run on a linear-time engine (regex.ts).
 */
export interface CompileEnv {}

/** A compiled criterion test; only called with a principal when `needsIdentity`. */
export type CriterionTest = (ctx: EvalContext) => boolean;

/**
 * One policy criterion: its key in a rule, the JSON Schema of its argument (the
 * policy schema is assembled from these), and how to compile the argument once at
 * load time. Reason codes follow from the name (reasons.ts).
 */
export interface Criterion {
  readonly name: string;
  /** True when the criterion reads the identity; without one it yields `user-unauthenticated`. */
  readonly needsIdentity: boolean;
  /** True when it reads the tailnet identity; without one it yields `tailnet-unauthenticated`. */
  readonly needsTailnet?: boolean;
  readonly summary: string;
  readonly argumentSchema: Record<string, unknown>;
  compile(arg: unknown, pointer: string, env: CompileEnv): CriterionTest;
}
