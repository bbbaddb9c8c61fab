// A small, strict reader of the ONNX protobuf (onnx.proto3), enough to vet a user's model
// *before* onnxruntime parses it: it walks every graph (main graph, subgraphs of If/Loop/Scan,
// functions, training graphs) and every tensor (initializers, Constant attributes, sparse tensors)
// looking for external data (weights stored in other files, which could point anywhere, e.g.
// ../../etc/passwd), and collects op domains, node and parameter counts and the graph's inputs.

export interface OnnxScan {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  /** Graph inputs that are not initializers (the model's real inputs), in order. */
  inputs: string[];
  outputs: string[];
  nodes: number; // all nodes, subgraphs included
  domains: string[]; // distinct op domains used by nodes ('' = ai.onnx)
  params: number; // elements in initializers
  /** Every tensor that keeps its data outside the file, with its `location`. */
  externalData: { tensor: string; location: string }[];
}

export class OnnxFormatError extends Error {}

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new OnnxFormatError('truncated varint');
      const b = this.buf[this.pos++];
      if (shift < 53) result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
    throw new OnnxFormatError('varint too long');
  }
  /** Yields (field, wireType, start, end) for each field; length-delimited payload bounds in start/end. */
  *fields(): Generator<{ field: number; wire: number; start: number; end: number; value: number }> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      if (field === 0) throw new OnnxFormatError('field number 0');
      if (wire === 0) {
        const value = this.varint();
        yield { field, wire, start: this.pos, end: this.pos, value };
      } else if (wire === 1) {
        if (this.pos + 8 > this.end) throw new OnnxFormatError('truncated fixed64');
        this.pos += 8;
        yield { field, wire, start: this.pos - 8, end: this.pos, value: 0 };
      } else if (wire === 2) {
        const len = this.varint();
        const start = this.pos;
        if (start + len > this.end) throw new OnnxFormatError('length past the end');
        this.pos += len;
        yield { field, wire, start, end: start + len, value: len };
      } else if (wire === 5) {
        if (this.pos + 4 > this.end) throw new OnnxFormatError('truncated fixed32');
        this.pos += 4;
        yield { field, wire, start: this.pos - 4, end: this.pos, value: 0 };
      } else {
        throw new OnnxFormatError(`unsupported wire type ${wire}`);
      }
    }
    if (this.pos !== this.end) throw new OnnxFormatError('message overruns its bounds');
  }
}

const decoder = new TextDecoder('utf-8', { fatal: false });

interface Ctx {
  buf: Uint8Array;
  nodes: number;
  domains: Set<string>;
  params: number;
  external: { tensor: string; location: string }[];
  depth: number;
}

function str(ctx: Ctx, s: number, e: number): string {
  return decoder.decode(ctx.buf.subarray(s, e));
}

function sub(ctx: Ctx, s: number, e: number): Reader {
  return new Reader(ctx.buf, s, e);
}

function deeper<T>(ctx: Ctx, f: () => T): T {
  if (++ctx.depth > 64) throw new OnnxFormatError('nesting too deep');
  try {
    return f();
  } finally {
    ctx.depth--;
  }
}

/** TensorProto: dims(1) name(8) external_data(13) data_location(14). Returns its name. */
function tensor(ctx: Ctx, s: number, e: number, countParams: boolean): string {
  return deeper(ctx, () => {
    let name = '';
    let location = '';
    let external = false;
    let elements = 1;
    let anyDim = false;
    for (const f of sub(ctx, s, e).fields()) {
      if (f.field === 1) {
        anyDim = true;
        if (f.wire === 0) elements *= f.value;
        else if (f.wire === 2) {
          const r = sub(ctx, f.start, f.end);
          while (r.pos < r.end) elements *= r.varint();
        }
      } else if (f.field === 8 && f.wire === 2) name = str(ctx, f.start, f.end);
      else if (f.field === 14 && f.wire === 0 && f.value === 1) external = true;
      else if (f.field === 13 && f.wire === 2) {
        external = true;
        let k = '';
        let v = '';
        for (const g of sub(ctx, f.start, f.end).fields()) {
          if (g.field === 1 && g.wire === 2) k = str(ctx, g.start, g.end);
          else if (g.field === 2 && g.wire === 2) v = str(ctx, g.start, g.end);
        }
        if (k === 'location') location = v;
      }
    }
    if (external) ctx.external.push({ tensor: name, location });
    if (countParams) ctx.params += anyDim ? elements : 1;
    return name;
  });
}

/** SparseTensorProto: values(1) indices(2). */
function sparse(ctx: Ctx, s: number, e: number, countParams: boolean): void {
  deeper(ctx, () => {
    for (const f of sub(ctx, s, e).fields()) if ((f.field === 1 || f.field === 2) && f.wire === 2) tensor(ctx, f.start, f.end, countParams && f.field === 1);
  });
}

/** AttributeProto: t(5) g(6) tensors(10) graphs(11) sparse_tensor(22) sparse_tensors(23). */
function attribute(ctx: Ctx, s: number, e: number): void {
  deeper(ctx, () => {
    for (const f of sub(ctx, s, e).fields()) {
      if (f.wire !== 2) continue;
      if (f.field === 5 || f.field === 10) tensor(ctx, f.start, f.end, false);
      else if (f.field === 6 || f.field === 11) graph(ctx, f.start, f.end);
      else if (f.field === 22 || f.field === 23) sparse(ctx, f.start, f.end, false);
    }
  });
}

/** NodeProto: attribute(5) domain(7). */
function node(ctx: Ctx, s: number, e: number): void {
  deeper(ctx, () => {
    ctx.nodes++;
    let domain = '';
    for (const f of sub(ctx, s, e).fields()) {
      if (f.field === 5 && f.wire === 2) attribute(ctx, f.start, f.end);
      else if (f.field === 7 && f.wire === 2) domain = str(ctx, f.start, f.end);
    }
    ctx.domains.add(domain);
  });
}

function valueInfoName(ctx: Ctx, s: number, e: number): string {
  for (const f of sub(ctx, s, e).fields()) if (f.field === 1 && f.wire === 2) return str(ctx, f.start, f.end);
  return '';
}

/** GraphProto: node(1) initializer(5) sparse_initializer(15) input(11) output(12). */
function graph(ctx: Ctx, s: number, e: number, top?: { inputs: string[]; outputs: string[] }): void {
  deeper(ctx, () => {
    const inits = new Set<string>();
    const inputs: string[] = [];
    for (const f of sub(ctx, s, e).fields()) {
      if (f.wire !== 2) continue;
      if (f.field === 1) node(ctx, f.start, f.end);
      else if (f.field === 5) inits.add(tensor(ctx, f.start, f.end, !!top));
      else if (f.field === 15) sparse(ctx, f.start, f.end, !!top);
      else if (f.field === 11) inputs.push(valueInfoName(ctx, f.start, f.end));
      else if (f.field === 12 && top) top.outputs.push(valueInfoName(ctx, f.start, f.end));
    }
    if (top) top.inputs.push(...inputs.filter((n) => !inits.has(n)));
  });
}

/** FunctionProto: node(7). TrainingInfoProto: initialization(1) algorithm(2) graphs. */
function func(ctx: Ctx, s: number, e: number): void {
  deeper(ctx, () => {
    for (const f of sub(ctx, s, e).fields()) if (f.field === 7 && f.wire === 2) node(ctx, f.start, f.end);
  });
}

function trainingInfo(ctx: Ctx, s: number, e: number): void {
  deeper(ctx, () => {
    for (const f of sub(ctx, s, e).fields()) if ((f.field === 1 || f.field === 2) && f.wire === 2) graph(ctx, f.start, f.end);
  });
}

/**
 * Parse a ModelProto: ir_version(1) producer_name(2) graph(7) opset_import(8) training_info(20)
 * functions(25). Throws OnnxFormatError when the bytes are not a well-formed ONNX model.
 */
export function scanOnnx(bytes: Uint8Array): OnnxScan {
  const ctx: Ctx = { buf: bytes, nodes: 0, domains: new Set(), params: 0, external: [], depth: 0 };
  let irVersion = -1;
  let producer = '';
  const opsets: { domain: string; version: number }[] = [];
  const top = { inputs: [] as string[], outputs: [] as string[] };
  let graphs = 0;
  for (const f of new Reader(bytes, 0, bytes.length).fields()) {
    if (f.field === 1 && f.wire === 0) irVersion = f.value;
    else if (f.field === 2 && f.wire === 2) producer = str(ctx, f.start, f.end);
    else if (f.field === 7 && f.wire === 2) {
      graphs++;
      graph(ctx, f.start, f.end, top);
    } else if (f.field === 8 && f.wire === 2) {
      let domain = '';
      let version = 0;
      for (const g of sub(ctx, f.start, f.end).fields()) {
        if (g.field === 1 && g.wire === 2) domain = str(ctx, g.start, g.end);
        else if (g.field === 2 && g.wire === 0) version = g.value;
      }
      opsets.push({ domain, version });
    } else if (f.field === 20 && f.wire === 2) trainingInfo(ctx, f.start, f.end);
    else if (f.field === 25 && f.wire === 2) func(ctx, f.start, f.end);
  }
  if (irVersion < 1 || graphs !== 1 || opsets.length === 0) throw new OnnxFormatError('no ONNX model header (ir_version, graph, opset)');
  return {
    irVersion,
    opsets,
    producer,
    inputs: top.inputs,
    outputs: top.outputs,
    nodes: ctx.nodes,
    domains: [...ctx.domains],
    params: ctx.params,
    externalData: ctx.external,
  };
}
