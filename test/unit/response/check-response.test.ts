import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_IDENTITY, invalidToken } from '../../../src/identity/identity-result.js';
import { checkResponse, metadataFields, type CheckOutcome } from '../../../src/response/check-response.js';
import { prefersHtml } from '../../../src/response/deny-body.js';
import { facts, principal } from '../../helpers/policy.js';

type Resp = {
  status: { code: number };
  ok_response?: { headers: { header: { key: string; value: string } }[]; headers_to_remove: string[] };
  denied_response?: { status: { code: number }; headers: { header: { key: string; value: string } }[]; body: string };
};
const header = (r: Resp, k: string) => (r.ok_response ?? r.denied_response)!.headers.find((h) => h.header.key === k)?.header.value;

function outcome(over: Partial<CheckOutcome> = {}): CheckOutcome {
  return {
    decisionId: 'd-1',
    decision: { allow: true, status: 200, route: 'r', reasons: ['groups-ok'] },
    identity: { kind: 'principal', principal: principal({ sub: 'alice', email: 'a@example.com', groups: ['sre', 'dev'] }) },
    facts: facts(),
    ...over,
  };
}

describe('CheckResponse building', () => {
  type Meta = { dynamic_metadata?: { fields: Record<string, { stringValue?: string; numberValue?: number; listValue?: { values: { stringValue: string }[] } }> } };
  it('dynamic_metadata: the contract four by default, a chosen set with response.dynamic_metadata, none with []', () => {
    const byDefault = (checkResponse(outcome(), { exposeReasons: true }) as Meta).dynamic_metadata!.fields;
    assert.deepEqual(Object.keys(byDefault).sort(), ['decision', 'decision_id', 'reasons', 'route']);
    assert.equal(byDefault.decision_id!.stringValue, 'd-1');
    assert.equal(byDefault.route!.stringValue, 'r');
    assert.equal(byDefault.decision!.stringValue, 'allow');
    assert.deepEqual(byDefault.reasons!.listValue!.values.map((v) => v.stringValue), ['groups-ok']);
    const all = (checkResponse(outcome(), { exposeReasons: true, metadata: metadataFields(['decision_id', 'route', 'decision', 'reasons', 'status', 'user']) }) as Meta).dynamic_metadata!.fields;
    assert.equal(all.status!.numberValue, 200);
    assert.equal(all.user!.stringValue, 'alice');
    const denied = outcome({ decision: { allow: false, status: 403, route: 'r', reasons: ['groups-missing'] } });
    const one = (checkResponse(denied, { exposeReasons: true, metadata: metadataFields(['decision_id']) }) as Meta).dynamic_metadata!.fields;
    assert.deepEqual(Object.keys(one), ['decision_id']);
    assert.equal((checkResponse(denied, { exposeReasons: true, metadata: metadataFields([]) }) as Meta).dynamic_metadata, undefined);
  });

  it('never leaves a user header from the client when the user is unknown', () => {
    const r = checkResponse(
      outcome({
        decision: { allow: true, status: 200, route: 'public', reasons: ['accept'] },
        identity: NO_IDENTITY,
        facts: facts({ headerList: { 'x-verdict-user': 'root', 'x-verdict-email': 'root@x', 'x-verdict-groups': 'admins', 'x-other': '1' } }),
      }),
      { exposeReasons: true },
    ) as Resp;
    assert.equal(header(r, 'x-verdict-user'), undefined);
    assert.deepEqual(r.ok_response!.headers_to_remove.sort(), ['x-verdict-email', 'x-verdict-groups', 'x-verdict-user']);
    assert.equal(header(r, 'x-verdict-decision-id'), 'd-1');
  });

  it('percent-encodes values that could split headers, non-ASCII values and commas in group names', () => {
    const p = principal({ sub: 'alice\r\nx-evil: 1', email: 'ivan@пример.рф', groups: ['ok', 'a,b', 'bad\nline', 'Админы', '50%'] });
    const r = checkResponse(outcome({ identity: { kind: 'principal', principal: p } }), { exposeReasons: true }) as Resp;
    assert.equal(header(r, 'x-verdict-user'), 'alice%0D%0Ax-evil:%201');
    assert.equal(decodeURIComponent(header(r, 'x-verdict-user')!), 'alice\r\nx-evil: 1');
    assert.equal(decodeURIComponent(header(r, 'x-verdict-email')!), 'ivan@пример.рф');
    const groups = header(r, 'x-verdict-groups')!;
    assert.match(groups, /^[!-~]+$/, 'visible ASCII only');
    assert.deepEqual(groups.split(',').map(decodeURIComponent), ['ok', 'a,b', 'bad\nline', 'Админы', '50%']);
  });

  it('denies with JSON for API clients and hides reasons when configured', () => {
    const o = outcome({ decision: { allow: false, status: 403, route: 'r', reasons: ['groups-unauthorized'] } });
    const shown = checkResponse(o, { exposeReasons: true }) as Resp;
    assert.equal(shown.status.code, 7);
    assert.equal(shown.denied_response!.status.code, 403);
    assert.deepEqual(JSON.parse(shown.denied_response!.body), { error: 'forbidden', decision_id: 'd-1', reasons: ['groups-unauthorized'] });
    const hidden = checkResponse(o, { exposeReasons: false }) as Resp;
    assert.deepEqual(JSON.parse(hidden.denied_response!.body).reasons, []);
    assert.equal(header(hidden, 'x-verdict-decision-id'), 'd-1');
  });

  it('maps statuses to gRPC codes: 401→16, 400/403/404→7, 503→14', () => {
    const code = (status: number) => (checkResponse(outcome({ decision: { allow: false, status, route: undefined, reasons: ['x'] } }), { exposeReasons: true }) as Resp).status.code;
    assert.equal(code(401), 16);
    assert.equal(code(400), 7);
    assert.equal(code(403), 7);
    assert.equal(code(404), 7);
    assert.equal(code(503), 14);
  });

  it('names a rejected token in www-authenticate', () => {
    const r = checkResponse(outcome({ decision: { allow: false, status: 401, route: 'r', reasons: ['invalid-token'] }, identity: invalidToken('bad') }), { exposeReasons: true }) as Resp;
    assert.equal(header(r, 'www-authenticate'), 'Bearer realm="verdict", error="invalid_token"');
  });

  it('escapes everything it puts in the HTML page', () => {
    const r = checkResponse(
      outcome({ decisionId: '<script>', decision: { allow: false, status: 403, route: 'r', reasons: ['<b>'] }, facts: facts({ headerList: { accept: 'text/html' } }) }),
      { exposeReasons: true },
    ) as Resp;
    assert.doesNotMatch(r.denied_response!.body, /<script>|<b>/);
    assert.match(r.denied_response!.body, /&#60;script&#62;/);
  });

  it('prefers HTML only when the client ranks it above JSON', () => {
    assert.equal(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'), true);
    assert.equal(prefersHtml('application/json'), false);
    assert.equal(prefersHtml('*/*'), false);
    assert.equal(prefersHtml(undefined), false);
    assert.equal(prefersHtml('application/json, text/html;q=0.5'), false);
    assert.equal(prefersHtml('text/html;q=0'), false);
  });
});
