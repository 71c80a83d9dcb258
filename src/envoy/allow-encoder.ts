import type { Type } from 'protobufjs';

/**
 * The CheckResponse of an allow, written straight into one Buffer: the constant parts
 * (`status {code: 0}`, each header's `append {value: false}`, field tags) encoded once at
 * load with protobufjs, the strings copied in between. protobufjs's generic encoder builds a
 * list of operations and a fork state per nested message (about a hundred small objects for
 * an allow with four identity headers and the metadata Struct); this costs a fraction of it.
 *
 * It takes only the shape `checkResponse` builds for an allow (status code 0, `ok_response`
 * with `headers` and `headers_to_remove`, `dynamic_metadata` of string, number and string-list
 * values) and returns undefined for anything else, which protobufjs then encodes. The bytes
 * are protobufjs's own, field for field and in the same order
 * (test/unit/envoy/allow-encoder.test.ts compares them); field numbers are read from the
 * protos at load, not written here.
 */
export type AllowEncoder = (res: Record<string, unknown>) => Buffer | undefined;

interface HeaderOption {
  header: { key: string; value: string };
  append: { value: boolean };
}
type StructValue = { stringValue?: string; numberValue?: number; listValue?: { values: StructValue[] } };

const LDELIM = 2;
const FIXED64 = 1;

function fieldId(type: Type, name: string): number {
  const f = type.fields[name];
  if (!f) throw new Error(`${type.fullName} has no field ${name}`);
  return f.id;
}

const tag = (id: number, wire: number): number => (id << 3) | wire;

function varintLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

const SHORT = 64;

// String.prototype.isWellFormed (Node 20; not in the es2023 lib types).
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * UTF-8 length of a string, or -1 when it holds a lone surrogate (checked only for non-ASCII
 * text): protobufjs and Buffer write one differently, so such text goes to protobufjs.
 */
function utf8Length(s: string): number {
  // Short ASCII (header names, ids, routes, reason codes): counted here, no call into C++.
  if (s.length <= SHORT) {
    let i = 0;
    while (i < s.length && s.charCodeAt(i) < 0x80) i++;
    if (i === s.length) return i;
  }
  const n = Buffer.byteLength(s);
  return n !== s.length && !wellFormed(s) ? -1 : n;
}

/** Own enumerable keys (what protobufjs's encoder would look at), without an array per call. */
function keyCount(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

/** Size of a length-delimited field (tag of one byte) holding `n` bytes. */
const delimited = (n: number): number => 1 + varintLength(n) + n;

export function allowEncoder(response: Type): AllowEncoder {
  const root = response.root;
  const Ok = root.lookupType('envoy.service.auth.v3.OkHttpResponse');
  const Option = root.lookupType('envoy.config.core.v3.HeaderValueOption');
  const HeaderValue = root.lookupType('envoy.config.core.v3.HeaderValue');
  const Struct = root.lookupType('google.protobuf.Struct');
  const Value = root.lookupType('google.protobuf.Value');
  const ListValue = root.lookupType('google.protobuf.ListValue');
  const t = {
    ok: tag(fieldId(response, 'ok_response'), LDELIM),
    metadata: tag(fieldId(response, 'dynamic_metadata'), LDELIM),
    headers: tag(fieldId(Ok, 'headers'), LDELIM),
    remove: tag(fieldId(Ok, 'headers_to_remove'), LDELIM),
    header: tag(fieldId(Option, 'header'), LDELIM),
    key: tag(fieldId(HeaderValue, 'key'), LDELIM),
    value: tag(fieldId(HeaderValue, 'value'), LDELIM),
    fields: tag(fieldId(Struct, 'fields'), LDELIM),
    // A map entry is a message of key = 1, value = 2 (protobuf's map encoding).
    entryKey: tag(1, LDELIM),
    entryValue: tag(2, LDELIM),
    string: tag(fieldId(Value, 'stringValue'), LDELIM),
    number: tag(fieldId(Value, 'numberValue'), FIXED64),
    list: tag(fieldId(Value, 'listValue'), LDELIM),
    values: tag(fieldId(ListValue, 'values'), LDELIM),
  };
  for (const [name, v] of Object.entries(t)) if (v > 0x7f) throw new Error(`allow encoder: the tag of ${name} takes more than one byte`);
  // Encoded once: the status of an allow, and the `append` part of a header option.
  const okStatus = Buffer.from(response.encode({ status: { code: 0 } }).finish());
  const append = Buffer.from(Option.encode({ append: { value: false } }).finish());

  // Sizes of the parts of the response now being encoded, computed once and read while writing.
  const sizes: number[] = [];

  /** Pushes the sizes `writeValue` reads back, in the same order; undefined for a value not handled here. */
  function valueSize(v: StructValue): number | undefined {
    // One field of the oneof, and nothing else on the object.
    if (v === null || typeof v !== 'object' || keyCount(v) !== 1) return undefined;
    if (typeof v.stringValue === 'string') {
      const n = utf8Length(v.stringValue);
      if (n < 0) return undefined;
      sizes.push(n);
      return delimited(n);
    }
    if (typeof v.numberValue === 'number') return 9;
    const list = v.listValue;
    if (list === null || typeof list !== 'object' || !Array.isArray(list.values) || keyCount(list) !== 1) return undefined;
    // Lists of strings only (reasons); anything deeper goes to protobufjs.
    const at = sizes.length;
    sizes.push(0);
    let n = 0;
    for (const x of list.values) {
      if (x === null || typeof x !== 'object' || typeof x.stringValue !== 'string' || keyCount(x) !== 1) return undefined;
      const len = utf8Length(x.stringValue);
      if (len < 0) return undefined;
      sizes.push(len);
      n += delimited(delimited(len));
    }
    sizes[at] = n;
    return delimited(n);
  }

  // The response being written, and where: module state, so the helpers are not closures made per call.
  let buf = Buffer.alloc(0);
  let pos = 0;
  let si = 0;
  const varint = (n: number): void => {
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
  };
  const str = (tagByte: number, s: string, n: number): void => {
    buf[pos++] = tagByte;
    varint(n);
    // n === s.length only for ASCII text (any other character takes more UTF-8 bytes than UTF-16 units).
    if (n === s.length && n <= SHORT) for (let i = 0; i < n; i++) buf[pos++] = s.charCodeAt(i);
    else pos += n === 0 ? 0 : buf.write(s, pos, n, 'utf8');
  };
  const writeValue = (v: StructValue): void => {
    if (v.stringValue !== undefined) str(t.string, v.stringValue, sizes[si++]!);
    else if (v.numberValue !== undefined) {
      buf[pos++] = t.number;
      pos = buf.writeDoubleLE(v.numberValue, pos);
    } else {
      buf[pos++] = t.list;
      varint(sizes[si++]!);
      for (const x of v.listValue!.values) {
        const len = sizes[si++]!;
        buf[pos++] = t.values;
        varint(delimited(len));
        str(t.string, x.stringValue!, len);
      }
    }
  };
  return (res) => {
    const status = res.status as { code?: unknown } | undefined;
    const ok = res.ok_response as { headers?: unknown; headers_to_remove?: unknown } | undefined;
    const metadata = res.dynamic_metadata as { fields?: Record<string, StructValue> } | undefined;
    if (!status || status.code !== 0 || keyCount(status) !== 1 || !ok || res.denied_response !== undefined) return undefined;
    for (const k in res) if (k !== 'status' && k !== 'ok_response' && k !== 'dynamic_metadata') return undefined;
    for (const k in ok) if (k !== 'headers' && k !== 'headers_to_remove') return undefined;
    const headers = (ok.headers ?? []) as HeaderOption[];
    const remove = (ok.headers_to_remove ?? []) as string[];
    if (!Array.isArray(headers) || !Array.isArray(remove)) return undefined;
    sizes.length = 0;

    // Pass 1: sizes, depth first in writing order.
    let okSize = 0;
    for (const h of headers) {
      const hv = h.header;
      if (!hv || typeof hv.key !== 'string' || typeof hv.value !== 'string' || h.append?.value !== false || keyCount(h) !== 2 || keyCount(hv) !== 2 || keyCount(h.append) !== 1) return undefined;
      const k = utf8Length(hv.key);
      const v = utf8Length(hv.value);
      if (k < 0 || v < 0) return undefined;
      const inner = delimited(k) + delimited(v);
      sizes.push(k, v, inner);
      const option = delimited(inner) + append.length;
      sizes.push(option);
      okSize += delimited(option);
    }
    for (const r of remove) {
      if (typeof r !== 'string') return undefined;
      const n = utf8Length(r);
      if (n < 0) return undefined;
      sizes.push(n);
      okSize += delimited(n);
    }
    let structSize = 0;
    let keys: string[] = [];
    if (metadata !== undefined) {
      const fields = metadata.fields;
      if (!fields || keyCount(metadata) !== 1) return undefined;
      keys = Object.keys(fields);
      for (const key of keys) {
        const k = utf8Length(key);
        if (k < 0) return undefined;
        const at = sizes.length;
        sizes.push(k, 0, 0);
        const value = valueSize(fields[key]!);
        if (value === undefined) return undefined;
        const entry = delimited(k) + delimited(value);
        sizes[at + 1] = value;
        sizes[at + 2] = entry;
        structSize += delimited(entry);
      }
    }
    const total = okStatus.length + delimited(okSize) + (metadata !== undefined ? delimited(structSize) : 0);

    // Pass 2: write.
    buf = Buffer.allocUnsafe(total);
    pos = 0;
    si = 0;
    okStatus.copy(buf, pos);
    pos += okStatus.length;
    buf[pos++] = t.ok;
    varint(okSize);
    for (const h of headers) {
      const k = sizes[si++]!;
      const v = sizes[si++]!;
      const inner = sizes[si++]!;
      const option = sizes[si++]!;
      buf[pos++] = t.headers;
      varint(option);
      buf[pos++] = t.header;
      varint(inner);
      str(t.key, h.header.key, k);
      str(t.value, h.header.value, v);
      append.copy(buf, pos);
      pos += append.length;
    }
    for (const r of remove) str(t.remove, r, sizes[si++]!);
    if (metadata !== undefined) {
      buf[pos++] = t.metadata;
      varint(structSize);
      for (const key of keys) {
        const k = sizes[si++]!;
        const value = sizes[si++]!;
        const entry = sizes[si++]!;
        buf[pos++] = t.fields;
        varint(entry);
        str(t.entryKey, key, k);
        buf[pos++] = t.entryValue;
        varint(value);
        writeValue(metadata.fields![key]!);
      }
    }
    return pos === total ? buf : undefined;
  };
}
