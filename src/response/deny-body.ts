import type { Decision } from '../policy/decision.js';

/**
 * A login that failed at the IdP, as the browser is told: `idp-unavailable` (the IdP did not
 * answer: "try again"), `idp-denied` (the IdP refused, e.g. `access_denied`: "start over").
 * `again` is the same-host path that starts a new login back to where the person was going.
 */
export interface LoginProblemPage {
  readonly kind: 'idp-unavailable' | 'idp-denied';
  readonly again: string;
}

export interface DenyBody {
  readonly contentType: string;
  readonly body: string;
}

const TITLES: Record<number, string> = {
  200: 'Confirm',
  302: 'Redirecting',
  400: 'Bad request',
  401: 'Sign-in required',
  403: 'Access denied',
  404: 'Not found',
  502: 'Bad gateway',
  503: 'Service unavailable',
};

const ERRORS: Record<number, string> = {
  200: 'confirm',
  302: 'redirect',
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  502: 'bad_gateway',
  503: 'unavailable',
};

/** q-value of the best entry in `accept` matching `type` (`text/html`) or its wildcards. */
function quality(accept: string, type: string): number {
  const [major] = type.split('/');
  let best = -1;
  let bestSpecificity = -1;
  for (const part of accept.split(',')) {
    const [rawRange, ...params] = part.trim().split(';');
    const range = (rawRange ?? '').trim().toLowerCase();
    const specificity = range === type ? 2 : range === `${major}/*` ? 1 : range === '*/*' ? 0 : -1;
    if (specificity < bestSpecificity || specificity < 0) continue;
    let q = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
    }
    best = specificity > bestSpecificity ? q : Math.max(best, q);
    bestSpecificity = specificity;
  }
  return best;
}

/** Browsers (HTML preferred over JSON) get a page; everything else gets JSON. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  return quality(accept, 'text/html') > Math.max(0, quality(accept, 'application/json'));
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = '<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f2f2f2;padding:0 .25rem}</style>';

/**
 * A logout that could not prove it came from this origin: a button that posts to the same
 * URL, so the browser sends it again as a same-origin POST (no script, no token to leak).
 */
function logoutConfirmPage(decisionId: string): DenyBody {
  const body =
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title>' +
    `<meta name="viewport" content="width=device-width,initial-scale=1">${STYLE}</head><body><h1>Sign out?</h1>` +
    '<form method="post"><button type="submit">Sign out</button></form>' +
    `<p>Decision id: <code>${escapeHtml(decisionId)}</code></p></body></html>`;
  return { contentType: 'text/html; charset=utf-8', body };
}

const LOGIN_PAGES = {
  'idp-unavailable': {
    title: 'Sign-in could not be completed',
    text: 'The identity provider did not answer, so your sign-in could not be completed. This is usually temporary.',
    link: 'Try again',
  },
  'idp-denied': {
    title: 'Sign-in was not completed',
    text: 'The identity provider did not grant the sign-in (it was cancelled or refused there).',
    link: 'Start over',
  },
} as const;

/**
 * A login that failed at the IdP: what happened in words, and a link that starts a new login
 * (a plain same-host link: no script, nothing of the failed attempt in it).
 */
function loginProblemPage(page: LoginProblemPage, decisionId: string): DenyBody {
  const p = LOGIN_PAGES[page.kind];
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${p.title}</title>` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">${STYLE}</head><body><h1>${p.title}</h1>` +
    `<p>${p.text}</p><p><a id="again" href="${escapeHtml(page.again)}">${p.link}</a></p>` +
    `<p>Decision id: <code>${escapeHtml(decisionId)}</code></p></body></html>`;
  return { contentType: 'text/html; charset=utf-8', body };
}

export function denyBody(decision: Decision, decisionId: string, accept: string | undefined, exposeReasons: boolean, page?: LoginProblemPage): DenyBody {
  if (decision.reasons[0] === 'logout-confirm' && prefersHtml(accept)) return logoutConfirmPage(decisionId);
  if (page && prefersHtml(accept)) return loginProblemPage(page, decisionId);
  const reasons = exposeReasons ? decision.reasons : [];
  if (!prefersHtml(accept)) {
    return {
      contentType: 'application/json',
      body: JSON.stringify({ error: ERRORS[decision.status] ?? 'denied', decision_id: decisionId, reasons }),
    };
  }
  const title = TITLES[decision.status] ?? 'Denied';
  const list = reasons.length > 0 ? `<p>Reasons:</p><ul>${reasons.map((r) => `<li><code>${escapeHtml(r)}</code></li>`).join('')}</ul>` : '';
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${decision.status} ${title}</title>` +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    STYLE +
    `</head><body><h1>${decision.status} ${title}</h1>${list}` +
    `<p>Decision id: <code>${escapeHtml(decisionId)}</code></p>` +
    '<p>Give this id to your administrator if you think this is wrong.</p></body></html>';
  return { contentType: 'text/html; charset=utf-8', body };
}
