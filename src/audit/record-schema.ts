export const AUDIT_RECORD_SCHEMA_ID = 'urn:verdict:schema:audit-record:1';

const str = { type: 'string' };
const strs = { type: 'array', items: { type: 'string' } };
const int = { type: 'integer' };
const reasons = { type: 'array', items: { type: 'string', pattern: '^[a-z][a-z-]*$' } };

/**
 * The audit record, version 1: decisions (`event.action: authorize`) and control-plane
 * records. Closed: a key not listed here is an error, so nothing slips into the trail
 * unnoticed (a test validates every record the test suite produces).
 */
export function auditRecordSchema(): Record<string, unknown> {
  const common = {
    time: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    'log.level': { enum: ['info', 'warn'] },
    'event.action': { type: 'string', pattern: '^[a-z][a-z_.-]*$' },
    seq: { type: 'integer', minimum: 1 },
    prev_hash: { type: ['string', 'null'], pattern: '^[0-9a-f]{64}$' },
    hash: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    'verdict.policy_hash': { type: 'string', pattern: '^[0-9a-f]{64}$' },
  };
  const decision = {
    'verdict.decision_id': { type: 'string', format: undefined, pattern: '^[0-9a-f-]{36}$' },
    'verdict.decision': { enum: ['allow', 'deny'] },
    // The decision's span (`telemetry.tracing`): W3C trace and span ids, lower-case hex.
    'trace.id': { type: 'string', pattern: '^[0-9a-f]{32}$' },
    'span.id': { type: 'string', pattern: '^[0-9a-f]{16}$' },
    'http.response.status_code': int,
    'verdict.reasons': reasons,
    'verdict.route': str,
    'verdict.auth_method': { enum: ['none', 'jwt', 'session'] },
    'verdict.transport': { enum: ['grpc', 'http'] },
    'verdict.duration_ms': { type: 'number', minimum: 0 },
    'verdict.detail': str,
    'verdict.identity_error': str,
    'verdict.issuer': str,
    'verdict.method_overrides': strs,
    'verdict.auth_time': { type: 'integer' },
    'verdict.claims': { type: 'object' },
    'verdict.envoy_route': str,
    'verdict.redacted': strs,
    'verdict.session_hash': { type: 'string', pattern: '^[0-9a-f]{32}$' },
    'verdict.session_claims_stale': { const: true },
    'verdict.tailnet.node': str,
    'verdict.tailnet.user': str,
    'verdict.tailnet.tags': strs,
    'verdict.shadow.decision': { enum: ['allow', 'deny'] },
    'verdict.shadow.status_code': int,
    'verdict.shadow.reasons': reasons,
    'verdict.shadow.differs': { type: 'boolean' },
    'verdict.raw_path': str,
    'user.id': str,
    'user.email': str,
    'user.roles': strs,
    'http.request.method': str,
    'url.path': str,
    'url.query': str,
    'url.scheme': str,
    'server.address': str,
    'client.address': str,
    'client.port': int,
    'http.request.id': str,
    'network.protocol.name': str,
  };
  const control = {
    'verdict.policy_files': { type: 'array', items: { type: 'object', properties: { name: str, sha256: str }, required: ['name', 'sha256'], additionalProperties: false } },
    'verdict.routes': strs,
    'verdict.audit_headers': strs,
    'verdict.config_file': str,
    'verdict.grpc_address': str,
    'verdict.http_address': str,
    'verdict.jwt_issuers': strs,
    'verdict.session_key_ids': strs,
    'verdict.warnings': strs,
    'verdict.assertion_key_id': str,
    'verdict.audit_mode': { enum: ['sync', 'async'] },
    'verdict.audit_durability': { enum: ['disk', 'os'] },
    // audit.reopened / audit.recovered: the trail's own faults.
    'verdict.reopen_reason': { enum: ['removed', 'moved', 'replaced', 'signal'] },
    'verdict.audit_path': str,
    'verdict.lost_seqs': { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 },
    'verdict.failure': str,
    'verdict.failed_at': { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' },
    'verdict.down_ms': { type: 'integer', minimum: 0 },
    'verdict.unrecorded': { type: 'integer', minimum: 0 },
    'verdict.unrecorded_decision_ids': { type: 'array', items: { type: 'string', pattern: '^[0-9a-f-]{36}$' } },
    'verdict.records_lost': { type: 'integer', minimum: 1 },
    'verdict.audit_key_id': str,
    'verdict.audit_public_key': { type: 'string', pattern: '^-----BEGIN PUBLIC KEY-----' },
    'verdict.audit_key_generated': { type: 'boolean' },
    'verdict.previous_policy_hash': str,
    'verdict.routes_added': strs,
    'verdict.routes_removed': strs,
    'verdict.routes_changed': strs,
    'verdict.problems': strs,
    'verdict.shutdown_reason': str,
    'verdict.shutdown_forced': { type: 'boolean' },
    // serve --workers N: which worker wrote the chain; worker-restarted: the one it replaces.
    'verdict.worker': { type: 'integer', minimum: 1 },
    'verdict.worker_exit_code': int,
    'verdict.worker_exit_signal': str,
    'verdict.worker_restarts': { type: 'integer', minimum: 1 },
    'verdict.recorded_by': { enum: ['restarted-worker'] },
    'verdict.checkpoint': {
      type: 'object',
      additionalProperties: false,
      required: ['seq', 'head'],
      properties: { seq: { type: 'integer', minimum: 0 }, head: { type: ['string', 'null'] }, jws: str },
    },
    'verdict.admin': str,
    'verdict.target.issuer': str,
    'verdict.target.subject': str,
    'verdict.sessions': int,
    'verdict.sessions_revoked': { type: 'array', items: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
    'verdict.suspended': { type: 'boolean' },
    'verdict.detail': str,
    'verdict.session_hash': { type: 'string', pattern: '^[0-9a-f]{32}$' },
    'http.request.method': str,
    'url.path': str,
    'client.address': str,
    'http.response.status_code': int,
  };
  for (const v of Object.values(decision)) delete (v as { format?: unknown }).format;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: AUDIT_RECORD_SCHEMA_ID,
    title: 'Verdict audit record (version 1)',
    type: 'object',
    required: ['time', 'log.level', 'event.action', 'seq', 'prev_hash', 'hash'],
    if: { properties: { 'event.action': { const: 'authorize' } } },
    then: {
      required: ['verdict.decision_id', 'verdict.decision', 'http.response.status_code', 'verdict.reasons', 'verdict.auth_method', 'verdict.transport'],
      properties: { ...common, ...decision },
      patternProperties: { '^http\\.request\\.header\\.[a-z0-9-]+$': str },
      additionalProperties: false,
    },
    else: { properties: { ...common, ...control }, additionalProperties: false },
  };
}
