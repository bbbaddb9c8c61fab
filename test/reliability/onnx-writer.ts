// A minimal ONNX (protobuf) writer, so that every hostile model of the suite is made at run time
// from a few lines of TypeScript instead of committed binaries. It covers only what the fixtures
// need: graphs of plain nodes, float/int64 initializers (inline or "external"), typed inputs and
// outputs with fixed or symbolic dimensions. Field numbers are those of onnx/onnx.proto3.

type Bytes = Uint8Array;

function varint(v: number | bigint): number[] {
  let x = BigInt.asUintN(64, BigInt(v)); // negatives become 10-byte two's complement, as protobuf wants
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x !== 0n) b |= 0x80;
    out.push(b);
  } while (x !== 0n);
  return out;
}

class Msg {
  private parts: number[] = [];
  int(field: number, v: number | bigint): this {
    this.parts.push(...varint((field << 3) | 0), ...varint(v));
    return this;
  }
  bytes(field: number, b: Bytes): this {
    this.parts.push(...varint((field << 3) | 2), ...varint(b.length));
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  msg(field: number, m: Msg): this {
    return this.bytes(field, m.encode());
  }
  float(field: number, f: number): this {
    const b = Buffer.alloc(4);
    b.writeFloatLE(f);
    this.parts.push(...varint((field << 3) | 5), ...b);
    return this;
  }
  encode(): Bytes {
    return Uint8Array.from(this.parts);
  }
}

export const DT = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

/** A dimension: a number is fixed, a string is symbolic (dim_param). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  elemType?: number; // default FLOAT
  shape: Dim[];
}

export interface Attr {
  name: string;
  f?: number;
  i?: number | bigint;
  s?: string;
  ints?: (number | bigint)[];
  t?: Tensor;
}

export interface Tensor {
  name: string;
  dataType: number;
  dims: (number | bigint)[];
  raw?: Bytes; // inline little-endian data
  external?: { location: string; offset?: number; length?: number }; // data_location = EXTERNAL
}

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attrs?: Attr[];
}

export interface ModelSpec {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers?: Tensor[];
  opset?: number;
  irVersion?: number;
  docString?: string;
  extraOpsets?: { domain: string; version: number }[];
}

function tensorMsg(t: Tensor): Msg {
  const m = new Msg();
  for (const d of t.dims) m.int(1, d);
  m.int(2, t.dataType);
  m.str(8, t.name);
  if (t.raw) m.bytes(9, t.raw);
  if (t.external) {
    const kv = (k: string, v: string) => new Msg().str(1, k).str(2, v);
    m.msg(13, kv('location', t.external.location));
    if (t.external.offset !== undefined) m.msg(13, kv('offset', String(t.external.offset)));
    if (t.external.length !== undefined) m.msg(13, kv('length', String(t.external.length)));
    m.int(14, 1);
  }
  return m;
}

function attrMsg(a: Attr): Msg {
  const m = new Msg().str(1, a.name);
  if (a.f !== undefined) m.float(2, a.f).int(20, 1);
  else if (a.i !== undefined) m.int(3, a.i).int(20, 2);
  else if (a.s !== undefined) m.str(4, a.s).int(20, 3);
  else if (a.t !== undefined) m.msg(5, tensorMsg(a.t)).int(20, 4);
  else if (a.ints !== undefined) {
    for (const v of a.ints) m.int(8, v);
    m.int(20, 7);
  }
  return m;
}

function valueInfoMsg(v: ValueInfo): Msg {
  const shape = new Msg();
  for (const d of v.shape) shape.msg(1, typeof d === 'number' ? new Msg().int(1, d) : new Msg().str(2, d));
  const tensorType = new Msg().int(1, v.elemType ?? DT.FLOAT).msg(2, shape);
  return new Msg().str(1, v.name).msg(2, new Msg().msg(1, tensorType));
}

/** Encode a model to ONNX bytes. */
export function encodeModel(spec: ModelSpec): Buffer {
  const g = new Msg();
  spec.nodes.forEach((n, i) => {
    const nm = new Msg();
    for (const x of n.inputs) nm.str(1, x);
    for (const x of n.outputs) nm.str(2, x);
    nm.str(3, n.name ?? `n${i}`).str(4, n.op);
    for (const a of n.attrs ?? []) nm.msg(5, attrMsg(a));
    if (n.domain) nm.str(7, n.domain);
    g.msg(1, nm);
  });
  g.str(2, 'g');
  for (const t of spec.initializers ?? []) g.msg(5, tensorMsg(t));
  if (spec.docString) g.str(10, spec.docString);
  for (const v of spec.inputs) g.msg(11, valueInfoMsg(v));
  for (const v of spec.outputs) g.msg(12, valueInfoMsg(v));
  const m = new Msg().int(1, spec.irVersion ?? 8).str(2, 'restora-reliability');
  m.msg(7, g);
  m.msg(8, new Msg().str(1, '').int(2, spec.opset ?? 17));
  for (const o of spec.extraOpsets ?? []) m.msg(8, new Msg().str(1, o.domain).int(2, o.version));
  return Buffer.from(m.encode());
}

export function floatTensor(name: string, dims: number[], values: number[] | Float32Array): Tensor {
  const f = Float32Array.from(values);
  return { name, dataType: DT.FLOAT, dims, raw: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

export function int64Tensor(name: string, values: (number | bigint)[]): Tensor {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigInt64LE(BigInt(v), 8 * i));
  return { name, dataType: DT.INT64, dims: [values.length], raw: new Uint8Array(b) };
}

/** 1x1 convolution weights that copy RGB to RGB (an identity a runtime cannot constant-fold away). */
export function identityConvWeights(channels = 3): Tensor {
  const w: number[] = [];
  for (let o = 0; o < channels; o++) for (let i = 0; i < channels; i++) w.push(o === i ? 1 : 0);
  return floatTensor('w', [channels, channels, 1, 1], w);
}
