/**
 * A small ONNX graph builder on top of onnx-proto: named float tensors as initializers, nodes
 * with typed attributes, one input and one output (float32 unless said otherwise). Serialisation is deterministic (protobuf
 * fields in schema order, initializers and nodes in insertion order), so the same weights give
 * the same bytes and the same sha256.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Opset 13: Clip takes min/max as inputs, Softmax works on the last axis. */
export const OPSET = 13;
const IR_VERSION = 7;

export type AttributeValue = number | number[] | string;

export interface GraphIo {
  name: string;
  /** Dimensions; a string is a symbolic dimension (the batch). */
  shape: Array<number | string>;
  /** Element type; default float32 (tests declare float16 to reproduce such exports). */
  type?: 'float32' | 'float16';
}

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  /** A fresh value name: `prefix_n`. */
  fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  /** Adds a float32 constant; the values are stored little-endian as raw data. */
  constant(prefix: string, dims: number[], values: Float32Array | number[]): string {
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`${prefix}: ${data.length} values for dims ${dims.join('x')}`);
    const name = this.fresh(prefix);
    const raw = new Uint8Array(data.length * 4);
    const view = new DataView(raw.buffer);
    for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i]!, true);
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: raw }));
    return name;
  }

  /** Adds a node and returns its (single) output name. */
  node(opType: string, inputs: string[], attributes: Record<string, AttributeValue> = {}, outputName?: string): string {
    const output = outputName ?? this.fresh(opType.toLowerCase());
    if (outputName) this.names.add(outputName);
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs,
        output: [output],
        name: `${opType}_${this.nodes.length}`,
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return output;
  }

  /** Serialises the model. `metadata` lands in the model's metadata_props (sorted by key). */
  encode(options: { name: string; input: GraphIo; output: GraphIo; producer: string; metadata?: Record<string, string> }): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: options.name,
      node: this.nodes,
      initializer: this.initializers,
      input: [valueInfo(options.input)],
      output: [valueInfo(options.output)],
    });
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: options.producer,
      producerVersion: '1',
      graph,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: OPSET })],
      metadataProps: Object.entries(options.metadata ?? {})
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attribute(name: string, value: AttributeValue) {
  const { AttributeType } = onnx.AttributeProto;
  if (typeof value === 'string') return onnx.AttributeProto.create({ name, type: AttributeType.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INTS, ints: value });
  if (Number.isInteger(value)) return onnx.AttributeProto.create({ name, type: AttributeType.INT, i: value });
  return onnx.AttributeProto.create({ name, type: AttributeType.FLOAT, f: value });
}

function valueInfo(io: GraphIo) {
  return onnx.ValueInfoProto.create({
    name: io.name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: io.type === 'float16' ? onnx.TensorProto.DataType.FLOAT16 : onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: io.shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
        }),
      }),
    }),
  });
}
