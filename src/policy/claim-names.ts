/**
 * The names of the claims a set of routes reads with the `claim` criterion, found in the
 * routes' source JSON (allow, deny, shadow). The audit record keeps these claims' values so
 * that `verdict replay` can decide again what the policy decided (and nothing beyond them).
 */
export function claimNames(routeSources: readonly Readonly<Record<string, unknown>>[]): readonly string[] {
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const n of node) walk(n);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'claim' && v !== null && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string') names.add((v as { name: string }).name);
      else walk(v);
    }
  };
  for (const r of routeSources) walk([r.allow, r.deny, r.shadow]);
  return Object.freeze([...names].sort());
}
