/**
 * Headers through which a client asks the upstream framework to treat a POST as another method:
 * Rails (Rack::MethodOverride, on by default), Symfony and Laravel, ASP.NET Core's
 * HttpMethodOverride, Express's method-override, Google's APIs.
 */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;
const TOKEN = /^[A-Z]+$/;
const NONE: readonly string[] = Object.freeze([]);

/**
 * The methods other than POST that an upstream may run this POST as: the method-override
 * headers and the `_method` query parameter (Spring's HiddenHttpMethodFilter, Symfony, Laravel),
 * upper-cased. A deny on DELETE must also catch `POST` + `X-HTTP-Method-Override: DELETE`,
 * which a Rails app runs as DELETE. A `_method` in a form body is not visible to Verdict.
 * Empty for other methods (frameworks honour overrides on POST only) and in the common case.
 */
export function methodOverrides(method: string, headers: ReadonlyMap<string, string>, query: string): readonly string[] {
  if (method !== 'POST') return NONE;
  let out: string[] | undefined;
  const add = (raw: string) => {
    // Joined repeats (`DELETE,PUT`) name each.
    for (const part of raw.split(',')) {
      const m = part.trim().toUpperCase();
      if (m === '' || m === 'POST') continue;
      // A value that is not a method token is named as it is: it is decided as that (unknown) method.
      const name = TOKEN.test(m) ? m : part.trim();
      if (!(out ??= []).includes(name)) out.push(name);
    }
  };
  for (const h of OVERRIDE_HEADERS) {
    const v = headers.get(h);
    if (v !== undefined) add(v);
  }
  if (query.includes('_method')) {
    for (const [k, v] of new URLSearchParams(query)) if (k === '_method') add(v);
  }
  return out ?? NONE;
}
