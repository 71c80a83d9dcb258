import type { RequestFacts } from '../request/facts.js';
import { prefersHtml } from '../response/deny-body.js';

/**
 * A page navigation by a person, who can be sent to log in. API, XHR, JSON and gRPC
 * clients get a 401 instead: a redirect to an HTML login page would only confuse them.
 */
export function wantsLoginRedirect(facts: RequestFacts): boolean {
  if (facts.method !== 'GET' && facts.method !== 'HEAD') return false;
  const h = facts.headers;
  if (h.has('authorization') || h.has('x-requested-with')) return false;
  if ((h.get('content-type') ?? '').startsWith('application/grpc')) return false;
  const mode = h.get('sec-fetch-mode');
  if (mode !== undefined && mode !== 'navigate') return false;
  return prefersHtml(h.get('accept'));
}
