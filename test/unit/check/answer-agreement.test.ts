import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCheck, type CheckDeps } from '../../../src/check.js';
import { NO_IDENTITY } from '../../../src/identity/identity-result.js';
import { facts, policyOf } from '../../helpers/policy.js';
import { checkHeaders } from '../../../src/servers/answer-headers.js';
import { httpAnswer } from '../../../src/response/http-answer.js';

describe('the audit record states the answer that is actually sent', () => {
  const records: Record<string, unknown>[] = [];
  const deps = {
    policies: { current: policyOf([{ id: 'pub', match: { path_prefix: '/' }, allow: { accept: true } }]) },
    identity: { resolve: async () => NO_IDENTITY },
    audit: { write: async (r: Record<string, unknown>) => void records.push(r), healthy: () => true },
    options: { requireRouteId: false, includeQuery: false },
  } as unknown as CheckDeps;
  const build = () => ({ ok: true as const, facts: facts(), rawPath: '/' });

  it('an answer the transport could not send becomes a 503 internal-error, in the answer and in its record', async () => {
    const o = await runCheck(deps, 'http', build, undefined, { checkAnswer: () => checkHeaders([['x-verdict-user', 'Ж']]) });
    assert.equal(o.decision.allow, false);
    assert.equal(o.decision.status, 503);
    assert.deepEqual(o.decision.reasons, ['internal-error']);
    const rec = records.at(-1)!;
    assert.equal(rec['verdict.decision_id'], o.decisionId);
    assert.equal(rec['verdict.decision'], 'deny');
    assert.equal(rec['http.response.status_code'], 503);
    assert.match(String(rec['verdict.detail']), /answer could not be sent/);
    assert.doesNotThrow(() => checkHeaders(httpAnswer(o, { exposeReasons: true }).headers), 'the 503 itself can be sent');
  });

  it('a sendable answer is recorded unchanged', async () => {
    const o = await runCheck(deps, 'http', build, undefined, { checkAnswer: (x) => checkHeaders(httpAnswer(x, { exposeReasons: true }).headers) });
    assert.equal(o.decision.status, 200);
    assert.equal(records.at(-1)!['http.response.status_code'], 200);
  });
});
