import type { CheckRequestLike } from '../request/check-request.js';
import { allowEncoder } from './allow-encoder.js';
import { AUTHORIZATION_SERVICE, loadEnvoyRoot } from './protos.js';

/**
 * The hot-path codec for CheckRequest/CheckResponse, built with protobufjs from
 * Envoy's own protos. It skips proto-loader's object conversion (toObject/fromObject),
 * which costs more than Verdict's whole decision: requests are read as decoded
 * messages (field names as in the .proto, defaults on the prototype) and responses are
 * encoded from plain objects of the same shape. bench/README.md has the numbers.
 */
export interface AuthCodec {
  decodeRequest(buf: Buffer): CheckRequestLike;
  encodeRequest(req: unknown): Buffer;
  encodeResponse(res: unknown): Buffer;
  decodeResponse(buf: Buffer): Record<string, unknown>;
}

let cached: AuthCodec | undefined;

export function authCodec(): AuthCodec {
  if (cached) return cached;
  const root = loadEnvoyRoot('envoy/service/auth/v3/external_auth.proto');
  const Request = root.lookupType(`${AUTHORIZATION_SERVICE.replace(/\.Authorization$/, '')}.CheckRequest`);
  const Response = root.lookupType(`${AUTHORIZATION_SERVICE.replace(/\.Authorization$/, '')}.CheckResponse`);
  const encodeAllow = allowEncoder(Response);
  cached = {
    decodeRequest: (buf) => Request.decode(buf) as unknown as CheckRequestLike,
    encodeRequest: (req) => Buffer.from(Request.encode(Request.fromObject(req as Record<string, unknown>)).finish()),
    // Plain objects are encoded as they are: enums as numbers, Struct values camelCase. An
    // allow, the common answer, is written directly (allow-encoder.ts), with the same bytes.
    encodeResponse: (res) => encodeAllow(res as Record<string, unknown>) ?? Buffer.from(Response.encode(res as Record<string, unknown>).finish()),
    decodeResponse: (buf) => Response.toObject(Response.decode(buf), { enums: Number, defaults: false }),
  };
  return cached;
}
