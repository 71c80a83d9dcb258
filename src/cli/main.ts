import { parseArgs } from 'node:util';
import { auditQuery, auditSummary, auditVerify } from './audit.js';
import { envoyConfig } from './envoy-config.js';
import { explain } from './explain.js';
import { err, out } from './io.js';
import { lint } from './lint.js';
import { replay } from './replay.js';
import { serve } from './serve.js';
import { test } from './test.js';
import { validate } from './validate.js';

const USAGE = `usage: verdict <command> [options]

  serve    [--config FILE] [--workers N|auto]  run the ext_authz gRPC server and the HTTP server
                                             (N processes sharing the ports; default 1)
  validate [--config FILE] [--policies DIR]  check the config and every policy file
  explain  [--config FILE] (--request FILE | --decision-id ID --audit FILE...) [--now T]
           [--identity FILE|JSON] [--format json|text]
                                             decide one request (a CheckRequest, or a recorded decision)
                                             and show why: each route against it, each rule's input and outcome
  test     [--config FILE] [--policies DIR] [PATH...] [--coverage] [--min-coverage P]
                                             run policy test files (default: <policies>/tests);
                                             coverage: rule outcomes exercised, per route
  audit verify FILE... [--key PUBLIC.pem|JWKS] [--live]
                                             check the hash chain and checkpoints of an audit trail;
                                             --live: a running server's file (its open tail is not an error)
  audit query FILE... [--user U] [--route R] [--decision allow|deny] [--reason CODE] [--decision-id ID]
                      [--since T] [--until T] [--format jsonl|csv|table]
                                             print matching records
  audit summary FILE... [same filters] [--top N] [--format text|json]
                                             decisions per route, user, reason and hour; top denied users and reasons
  lint     [--config FILE] [--policies DIR] [--tests PATH]...
                                             static analysis: shadowed and overlapping routes, constant
                                             rules, anonymous allows, regex extremes, untested hosts
  replay   --policies DIR AUDIT_FILE... [--config FILE] [--format text|json] [--examples N]
                                             decide recorded decisions again under DIR; exit 1 if any flips
  envoy-config [--config FILE] [--snippets] [--verdict-address HOST:PORT] [--listen HOST:PORT]
               [--admin-listen HOST:PORT] [--tls-cert FILE --tls-key FILE [--tls-listen HOST:PORT]]
                                             print an Envoy bootstrap (YAML) for the policy routes,
                                             or the filter, cluster and per-route pieces for an existing Envoy`;

const QUERY = ['user', 'route', 'decision', 'reason', 'decision-id', 'since', 'until', 'format'];
/**
 * The options each command takes. The parser knows the options of every command; one given to
 * a command that does not use it is refused (exit 2), not silently ignored: `serve --policies
 * DIR` serving another folder than the one named would be the worst kind of surprise.
 */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  serve: ['config', 'workers'],
  validate: ['config', 'policies'],
  explain: ['config', 'request', 'now', 'identity', 'decision-id', 'audit', 'format'],
  test: ['config', 'policies', 'coverage', 'min-coverage'],
  'audit verify': ['key', 'live'],
  'audit query': QUERY,
  'audit summary': [...QUERY, 'top'],
  lint: ['config', 'policies', 'tests'],
  replay: ['config', 'policies', 'format', 'examples'],
  'envoy-config': ['config', 'snippets', 'verdict-address', 'listen', 'admin-listen', 'tls-cert', 'tls-key', 'tls-listen'],
};

/** A one-line refusal for an option the command does not take, with what to do instead. */
function optionProblem(command: string, given: readonly string[]): string | undefined {
  const allowed = COMMAND_OPTIONS[command];
  if (allowed === undefined) return undefined;
  const bad = given.find((o) => o !== 'help' && !allowed.includes(o));
  if (bad === undefined) return undefined;
  const instead =
    bad === 'policies'
      ? '; set policies.dir in the --config file, or VERDICT_POLICIES_DIR'
      : bad === 'listen' && command === 'serve'
        ? '; set grpc.listen and http.listen in the --config file, or VERDICT_GRPC_LISTEN and VERDICT_HTTP_LISTEN'
        : '';
  return `verdict ${command}: --${bad} is not an option of ${command}${instead} (options: ${allowed.map((o) => `--${o}`).join(', ') || 'none'})`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        workers: { type: 'string' },
        policies: { type: 'string' },
        request: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        snippets: { type: 'boolean' },
        key: { type: 'string' },
        user: { type: 'string' },
        route: { type: 'string' },
        decision: { type: 'string' },
        reason: { type: 'string' },
        'decision-id': { type: 'string' },
        now: { type: 'string' },
        identity: { type: 'string' },
        audit: { type: 'string', multiple: true },
        live: { type: 'boolean' },
        top: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        format: { type: 'string' },
        coverage: { type: 'boolean' },
        tests: { type: 'string', multiple: true },
        'min-coverage': { type: 'string' },
        examples: { type: 'string' },
        'verdict-address': { type: 'string' },
        listen: { type: 'string' },
        'admin-listen': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-listen': { type: 'string' },
      },
    });
  } catch (e) {
    err(`verdict: ${(e as Error).message}`);
    err(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || command === undefined || command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return command === undefined ? 2 : 0;
  }
  const which = command === 'audit' && typeof positionals[0] === 'string' ? `audit ${positionals[0]}` : command;
  const refused = optionProblem(which, Object.keys(values));
  if (refused !== undefined) {
    err(refused);
    return 2;
  }
  const noPositionals = (): boolean => {
    if (positionals.length === 0) return true;
    err(`verdict ${command}: unexpected argument ${JSON.stringify(positionals[0])}`);
    return false;
  };
  switch (command) {
    case 'serve':
      return noPositionals() ? serve(values.config, values.workers) : 2;
    case 'validate':
      return noPositionals() ? validate(values.config, values.policies) : 2;
    case 'explain':
      // `--audit a.jsonl b.jsonl`: the files after the first are positionals.
      if (values['decision-id'] === undefined && !noPositionals()) return 2;
      return explain({ config: values.config, request: values.request, now: values.now, identity: values.identity, decisionId: values['decision-id'], audit: [...(values.audit ?? []), ...positionals], format: values.format });
    case 'test':
      return test(values.config, positionals, { coverage: values.coverage, minCoverage: values['min-coverage'], policies: values.policies });
    case 'audit': {
      const [sub, ...files] = positionals;
      if (sub === 'verify') return auditVerify(files, values.key, values.live ?? false);
      if (sub === 'query') return auditQuery(files, values);
      if (sub === 'summary') return auditSummary(files, values);
      err('verdict audit: use `audit verify FILE...`, `audit query FILE...` or `audit summary FILE...`');
      return 2;
    }
    case 'lint':
      return noPositionals() ? lint(values.config, values.policies, values.tests ?? []) : 2;
    case 'replay':
      return replay(positionals, { config: values.config, policies: values.policies, format: values.format, examples: values.examples });
    case 'envoy-config':
      return noPositionals()
        ? envoyConfig(values.config, values.snippets ?? false, {
            verdictAddress: values['verdict-address'],
            listen: values.listen,
            adminListen: values['admin-listen'],
            tlsCert: values['tls-cert'],
            tlsKey: values['tls-key'],
            tlsListen: values['tls-listen'],
          })
        : 2;
    default:
      err(`verdict: unknown command ${JSON.stringify(command)}`);
      err(USAGE);
      return 2;
  }
}
