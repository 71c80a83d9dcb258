import protobuf from 'protobufjs';

/**
 * Strict proto3-JSON checking against protobufjs reflection: every key must be a field of
 * its message (original or JSON name), every value of the field's type, every enum value
 * defined, and every `Any` must name a `@type` the root knows, whose fields are checked in
 * turn. protobufjs' own `fromObject` ignores unknown keys, which is exactly what Envoy
 * does not do, so this walks the reflection itself.
 */
const INT = /^-?\d+$/;
const DURATION = /^-?\d+(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};

const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export class StrictProtoJson {
  readonly #root: protobuf.Root;

  constructor(root: protobuf.Root) {
    this.#root = root;
  }

  /** Problems as `<path>: <message>`, empty when the value is valid. */
  check(typeName: string, value: unknown, path = ''): string[] {
    const errors: string[] = [];
    this.#message(this.#root.lookupType(typeName), value, path || typeName, errors);
    return errors;
  }

  #message(type: protobuf.Type, value: unknown, path: string, errors: string[]): void {
    const full = type.fullName;
    if (full === '.google.protobuf.Any') return this.#any(value, path, errors);
    if (full === '.google.protobuf.Duration') {
      if (typeof value !== 'string' || !DURATION.test(value)) errors.push(`${path}: expected a duration like "0.5s"`);
      return;
    }
    if (full === '.google.protobuf.Timestamp') {
      if (typeof value !== 'string' || !TIMESTAMP.test(value)) errors.push(`${path}: expected an RFC 3339 timestamp`);
      return;
    }
    if (full === '.google.protobuf.Struct') {
      if (!isObject(value)) errors.push(`${path}: expected an object`);
      return;
    }
    if (full === '.google.protobuf.Value') return;
    if (full === '.google.protobuf.ListValue') {
      if (!Array.isArray(value)) errors.push(`${path}: expected a list`);
      return;
    }
    if (full === '.google.protobuf.FieldMask') {
      if (typeof value !== 'string') errors.push(`${path}: expected a field mask string`);
      return;
    }
    const wrapped = WRAPPERS[full];
    if (wrapped) return this.#scalar(wrapped, value, path, errors);
    if (!isObject(value)) {
      errors.push(`${path}: expected an object (${full.slice(1)})`);
      return;
    }
    const byName = new Map<string, protobuf.Field>();
    for (const f of type.fieldsArray) {
      byName.set(f.name, f);
      byName.set(camel(f.name), f);
      const jsonName = (f.options as Record<string, unknown> | undefined)?.json_name;
      if (typeof jsonName === 'string') byName.set(jsonName, f);
    }
    const setOneofs = new Map<string, string>();
    for (const [key, v] of Object.entries(value)) {
      const field = byName.get(key);
      const at = `${path}.${key}`;
      if (!field) {
        errors.push(`${at}: unknown field of ${full.slice(1)}`);
        continue;
      }
      if (field.partOf) {
        const other = setOneofs.get(field.partOf.name);
        if (other) errors.push(`${at}: only one of oneof "${field.partOf.name}" may be set (also ${other})`);
        setOneofs.set(field.partOf.name, key);
      }
      this.#field(field, v, at, errors);
    }
  }

  #field(field: protobuf.Field, v: unknown, path: string, errors: string[]): void {
    field.resolve();
    if (field instanceof protobuf.MapField) {
      if (!isObject(v)) {
        errors.push(`${path}: expected a map (object)`);
        return;
      }
      for (const [k, item] of Object.entries(v)) this.#single(field, item, `${path}.${k}`, errors);
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(v)) {
        errors.push(`${path}: expected a list`);
        return;
      }
      v.forEach((item, i) => this.#single(field, item, `${path}[${i}]`, errors));
      return;
    }
    this.#single(field, v, path, errors);
  }

  #single(field: protobuf.Field, v: unknown, path: string, errors: string[]): void {
    const t = field.resolvedType;
    if (t instanceof protobuf.Enum) {
      const ok = (typeof v === 'string' && Object.hasOwn(t.values, v)) || (typeof v === 'number' && Object.values(t.values).includes(v));
      if (!ok) errors.push(`${path}: ${JSON.stringify(v)} is not a value of ${t.fullName.slice(1)} (${Object.keys(t.values).join(', ')})`);
      return;
    }
    if (t instanceof protobuf.Type) return this.#message(t, v, path, errors);
    this.#scalar(field.type, v, path, errors);
  }

  #scalar(type: string, v: unknown, path: string, errors: string[]): void {
    switch (type) {
      case 'string':
        if (typeof v !== 'string') errors.push(`${path}: expected a string`);
        return;
      case 'bytes':
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) errors.push(`${path}: expected base64 bytes`);
        return;
      case 'bool':
        if (typeof v !== 'boolean') errors.push(`${path}: expected true or false`);
        return;
      case 'double':
      case 'float':
        if (typeof v !== 'number' && !(typeof v === 'string' && /^(-?Infinity|NaN|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(v))) errors.push(`${path}: expected a number`);
        return;
      default: {
        // integer types; 64-bit ones may be strings in proto3 JSON
        const ok = (typeof v === 'number' && Number.isInteger(v)) || (typeof v === 'string' && INT.test(v));
        const unsigned = type.startsWith('u') || type.startsWith('fixed');
        if (!ok || (unsigned && Number(v) < 0)) errors.push(`${path}: expected ${unsigned ? 'a non-negative ' : 'an '}integer (${type})`);
      }
    }
  }

  #any(value: unknown, path: string, errors: string[]): void {
    if (!isObject(value) || typeof value['@type'] !== 'string') {
      errors.push(`${path}: an Any needs "@type"`);
      return;
    }
    const url = value['@type'];
    const name = url.slice(url.lastIndexOf('/') + 1);
    let type: protobuf.Type;
    try {
      type = this.#root.lookupType(name);
    } catch {
      errors.push(`${path}.@type: unknown type ${JSON.stringify(url)}`);
      return;
    }
    const { '@type': _ignored, ...rest } = value;
    if (WRAPPERS[type.fullName] || ['.google.protobuf.Duration', '.google.protobuf.Timestamp', '.google.protobuf.Struct', '.google.protobuf.Value'].includes(type.fullName)) {
      this.#message(type, rest.value, `${path}.value`, errors);
      return;
    }
    this.#message(type, rest, path, errors);
  }
}
