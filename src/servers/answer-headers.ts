import { validateHeaderName, validateHeaderValue } from 'node:http';

/**
 * Throws (ERR_INVALID_HTTP_TOKEN / ERR_INVALID_CHAR) when a header could not be sent as
 * is: the same check Node's HTTP server applies when the answer is written, run before
 * the decision's audit record so that record and answer never disagree.
 */
export function checkHeaders(headers: readonly (readonly [string, string])[]): void {
  for (const [name, value] of headers) {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  }
}

type HeaderList = { header: { key: string; value: string } }[] | undefined;

/** The header pairs of a CheckResponse (keepCase shape), allow or deny. */
export function checkResponseHeaders(response: Record<string, unknown>): [string, string][] {
  const ok = response.ok_response as { headers?: HeaderList } | undefined;
  const denied = response.denied_response as { headers?: HeaderList } | undefined;
  return (ok?.headers ?? denied?.headers ?? []).map((h) => [h.header.key, h.header.value]);
}
