import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allowEncoder } from '../../../src/envoy/allow-encoder.js';
import { authCodec } from '../../../src/envoy/codec.js';
import { AUTHORIZATION_SERVICE, loadEnvoyRoot } from '../../../src/envoy/protos.js';
import { NO_IDENTITY } from '../../../src/identity/identity-result.js';
import { checkResponse, metadataFields, type CheckOutcome } from '../../../src/response/check-response.js';
import { facts, principal } from '../../helpers/policy.js';

const root = loadEnvoyRoot('envoy/service/auth/v3/external_auth.proto');
const Response = root.lookupType(`${AUTHORIZATION_SERVICE.replace(/\.Authorization$/, '')}.CheckResponse`);
const direct = allowEncoder(Response);
const viaProtobufjs = (res: Record<string, unknown>) => Buffer.from(Response.encode(res).finish());

function allow(over: Partial<CheckOutcome> = {}, who = principal({ sub: 'alice', email: 'a@example.com', groups: ['sre', 'dev'] })): CheckOutcome {
  return { decisionId: '0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9', decision: { allow: true, status: 200, route: 'grafana', reasons: ['groups-ok', 'source-ip-ok'] }, identity: { kind: 'principal', principal: who }, facts: facts(), ...over };
}

const ALL = metadataFields(['decision_id', 'route', 'decision', 'reasons', 'status', 'user']);

describe('allow encoder: the bytes protobufjs writes, without its per-field objects', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['default metadata', checkResponse(allow(), { exposeReasons: true })],
    ['every metadata field (a number and a user)', checkResponse(allow(), { exposeReasons: true, metadata: ALL })],
    ['no metadata', checkResponse(allow(), { exposeReasons: true, metadata: metadataFields([]) })],
    ['anonymous allow: only the decision id header', checkResponse(allow({ identity: NO_IDENTITY }), { exposeReasons: true })],
    ['spoofed identity headers to remove', checkResponse(allow({ facts: facts({ headerList: { 'x-verdict-user': 'mallory', 'tailscale-user-login': 'x', cookie: 'a=b' } }) }), { exposeReasons: true })],
    ['non-ASCII identity, route and reasons (emoji, Cyrillic, CJK)', checkResponse(allow({ decision: { allow: true, status: 200, route: 'маршрут-🚀', reasons: ['groups-ok', 'причина'] } }, principal({ sub: 'пользователь', email: 'ü@例え.jp', groups: ['группа', 'a,b', '😀'] })), { exposeReasons: true, metadata: ALL })],
    ['long values (multi-byte length prefixes)', checkResponse(allow({ decision: { allow: true, status: 200, route: 'r'.repeat(300), reasons: Array.from({ length: 40 }, (_, i) => `reason-${i}`.repeat(20)) } }, principal({ sub: 's'.repeat(20000), groups: Array.from({ length: 200 }, (_, i) => `group-${i}`) })), { exposeReasons: true, metadata: ALL })],
    ['empty strings', checkResponse(allow({ decision: { allow: true, status: 200, route: '', reasons: [''] } }, principal({ sub: 'x', email: '', groups: [] })), { exposeReasons: true, metadata: ALL })],
  ];
  for (const [name, res] of cases) {
    it(name, () => {
      const bytes = direct(res);
      assert.ok(bytes, 'written directly');
      assert.deepEqual(bytes, viaProtobufjs(res));
      // And the codec grpc-js uses reads back what was meant.
      assert.deepEqual(authCodec().decodeResponse(bytes), authCodec().decodeResponse(viaProtobufjs(res)));
    });
  }

  it('leaves everything else to protobufjs: denies, other shapes, lone surrogates', () => {
    const deny = checkResponse({ ...allow(), decision: { allow: false, status: 403, route: 'r', reasons: ['groups-missing'] } }, { exposeReasons: true });
    assert.equal(direct(deny), undefined);
    const ok = checkResponse(allow(), { exposeReasons: true });
    assert.equal(direct({ ...ok, status: { code: 7 } }), undefined);
    assert.equal(direct({ ...ok, extra: 1 }), undefined);
    assert.equal(direct({ ...ok, ok_response: { ...(ok.ok_response as object), response_headers_to_add: [] } }), undefined);
    assert.equal(direct({ ...ok, dynamic_metadata: { fields: { nested: { structValue: { fields: {} } } } } }), undefined);
    assert.equal(direct({ ...ok, dynamic_metadata: { fields: { b: { boolValue: true } } } }), undefined);
    const lone = checkResponse(allow({ decision: { allow: true, status: 200, route: 'bad\ud800route', reasons: ['groups-ok'] } }), { exposeReasons: true });
    assert.equal(direct(lone), undefined);
    // The codec still encodes every one of them, through protobufjs.
    for (const r of [deny, lone]) assert.deepEqual(authCodec().encodeResponse(r), viaProtobufjs(r));
  });
});
