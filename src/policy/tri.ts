/**
 * Three-valued logic for rules: a criterion that needs an identity the request does
 * not have is UNKNOWN, so the decision can tell "log in" (401) from "forbidden" (403).
 */
export const FALSE = 0;
export const TRUE = 1;
export const UNKNOWN = 2;
export type Tri = typeof FALSE | typeof TRUE | typeof UNKNOWN;

/** The result of a rule together with the reason codes that produced it. */
export interface Outcome {
  readonly value: Tri;
  readonly reasons: readonly string[];
}
