import { authCodec } from '../../src/envoy/codec.js';

/** One gRPC message on the wire: uncompressed flag, 4-byte big-endian length, the bytes. */
export function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

/** A CheckRequest (envoyCheckRequest's shape) framed for a raw HTTP/2 client such as h2load. */
export function checkRequestFrame(request: Record<string, unknown>): Buffer {
  return grpcFrame(authCodec().encodeRequest(request));
}
