/**
 * Converts nsfwjs's Keras MobileNetV2 (TFJS layers format) into an ONNX graph.
 *
 * The graph takes NHWC float input in [0, 1] (pixels / 255, as nsfwjs feeds it) and transposes
 * once to NCHW, ONNX's native conv layout. Keras layers map to:
 *   ZeroPadding2D      -> folded into the next conv's `pads`
 *   Conv2D             -> Conv (kernel HWIO -> OIHW)
 *   DepthwiseConv2D    -> Conv with group = channels (kernel HWC1 -> C1HW)
 *   BatchNormalization -> folded into the preceding conv's weights and bias
 *   ReLU(max_value=6)  -> Clip(0, 6); plain ReLU -> Relu
 *   Add                -> Add
 *   AveragePooling2D   -> GlobalAveragePool when the window covers the map, else AveragePool
 *   Flatten            -> Flatten (after a transpose back to NHWC unless the map is 1x1)
 *   Dense              -> Gemm (+ its activation), Dropout -> nothing (inference)
 * BatchNorm folding is done in float64 and rounded once to float32.
 */
import { OnnxGraph } from './onnx-graph.js';
import { dequantizeWeights, type KerasLayer, type NsfwjsArtifacts } from './nsfwjs-artifacts.js';

export const IMAGE_INPUT_NAME = 'input';
export const IMAGE_OUTPUT_NAME = 'probabilities';

/** A value in the graph: its name and NCHW shape without the batch ([C, H, W] or [features]). */
interface Value {
  name: string;
  shape: number[];
  /** Zero padding a ZeroPadding2D asked for, applied by the consuming conv: [top, left, bottom, right]. */
  pendingPad?: [number, number, number, number];
}

export function convertNsfwjs(artifacts: NsfwjsArtifacts, size = 224): Uint8Array {
  const weights = dequantizeWeights(artifacts);
  const weight = (name: string) => {
    const found = weights.get(name);
    if (!found) throw new Error(`weight ${name} missing`);
    return found;
  };
  const layers = artifacts.modelTopology.model_config.config.layers;
  const bnAfter = new Map<string, KerasLayer>();
  for (const layer of layers) if (layer.class_name === 'BatchNormalization') bnAfter.set(inbound(layer)[0]!, layer);

  const graph = new OnnxGraph();
  const values = new Map<string, Value>();
  const input = (layer: KerasLayer, i = 0): Value => {
    const found = values.get(inbound(layer)[i]!);
    if (!found) throw new Error(`${layer.name}: input ${inbound(layer)[i]} not computed yet`);
    return found;
  };

  for (const layer of layers) {
    const config = layer.config;
    switch (layer.class_name) {
      case 'InputLayer': {
        const transposed = graph.node('Transpose', [IMAGE_INPUT_NAME], { perm: [0, 3, 1, 2] });
        values.set(layer.name, { name: transposed, shape: [3, size, size] });
        break;
      }
      case 'ZeroPadding2D': {
        const x = input(layer);
        const [[top, bottom], [left, right]] = config.padding as [[number, number], [number, number]];
        const prior = x.pendingPad ?? [0, 0, 0, 0];
        values.set(layer.name, {
          name: x.name,
          shape: [x.shape[0]!, x.shape[1]! + top + bottom, x.shape[2]! + left + right],
          pendingPad: [prior[0] + top, prior[1] + left, prior[2] + bottom, prior[3] + right],
        });
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const x = input(layer);
        const depthwise = layer.class_name === 'DepthwiseConv2D';
        const kernel = weight(`${layer.name}/${depthwise ? 'depthwise_kernel' : 'kernel'}`);
        const [kh, kw, cin, last] = kernel.shape as [number, number, number, number];
        const cout = depthwise ? cin * last : last;
        // Keras HWIO (or HW C M for depthwise) -> ONNX OIHW (or (C*M) 1 H W).
        const w = new Float64Array(cout * (depthwise ? 1 : cin) * kh * kw);
        for (let y = 0; y < kh; y++)
          for (let xk = 0; xk < kw; xk++)
            for (let i = 0; i < cin; i++)
              for (let o = 0; o < last; o++) {
                const v = kernel.values[((y * kw + xk) * cin + i) * last + o]!;
                if (depthwise) w[((i * last + o) * kh + y) * kw + xk] = v;
                else w[((o * cin + i) * kh + y) * kw + xk] = v;
              }
        const bias = new Float64Array(cout);
        if (config.use_bias) weight(`${layer.name}/bias`).values.forEach((v, i) => (bias[i] = v));
        const bn = bnAfter.get(layer.name);
        if (bn) foldBatchNorm(w, bias, bn, weight);
        const [sh, sw] = config.strides as [number, number];
        const [ih, iw] = [x.shape[1]!, x.shape[2]!];
        const pads = convPads(config.padding as string, x.pendingPad, [ih, iw], [kh, kw], [sh, sw]);
        // x.shape already counts the pending padding; pads repeat it, so subtract it once.
        const pending = x.pendingPad ?? [0, 0, 0, 0];
        const oh = Math.floor((ih - pending[0] - pending[2] + pads[0]! + pads[2]! - kh) / sh) + 1;
        const ow = Math.floor((iw - pending[1] - pending[3] + pads[1]! + pads[3]! - kw) / sw) + 1;
        const out = graph.node(
          'Conv',
          [x.name, graph.constant(`${layer.name}_W`, [cout, depthwise ? 1 : cin, kh, kw], Float32Array.from(w)), graph.constant(`${layer.name}_B`, [cout], Float32Array.from(bias))],
          { kernel_shape: [kh, kw], strides: [sh, sw], pads, group: depthwise ? cin : 1, dilations: [1, 1] },
        );
        let value: Value = { name: out, shape: [cout, oh, ow] };
        value = activation(graph, value, config.activation as string | undefined);
        values.set(layer.name, value);
        if (bn) values.set(bn.name, value);
        break;
      }
      case 'BatchNormalization':
        if (!values.has(layer.name)) throw new Error(`${layer.name}: only BatchNorm after a conv is supported`);
        break;
      case 'ReLU': {
        const x = input(layer);
        const max = config.max_value as number | null;
        if ((config.negative_slope as number) !== 0 || (config.threshold as number) !== 0) throw new Error(`${layer.name}: leaky/thresholded ReLU unsupported`);
        const out = max == null ? graph.node('Relu', [x.name]) : graph.node('Clip', [x.name, graph.constant('zero', [], [0]), graph.constant('six', [], [max])]);
        values.set(layer.name, { name: out, shape: x.shape });
        break;
      }
      case 'Add': {
        const [a, b] = [input(layer, 0), input(layer, 1)];
        values.set(layer.name, { name: graph.node('Add', [a.name, b.name]), shape: a.shape });
        break;
      }
      case 'AveragePooling2D':
      case 'GlobalAveragePooling2D': {
        const x = input(layer);
        const [c, h, w] = x.shape as [number, number, number];
        const pool = (config.pool_size as [number, number] | undefined) ?? [h, w];
        const strides = (config.strides as [number, number] | undefined) ?? pool;
        if (layer.class_name === 'GlobalAveragePooling2D') {
          const pooled = graph.node('GlobalAveragePool', [x.name]);
          values.set(layer.name, { name: graph.node('Flatten', [pooled], { axis: 1 }), shape: [c] });
        } else if (pool[0] === h && pool[1] === w) {
          values.set(layer.name, { name: graph.node('GlobalAveragePool', [x.name]), shape: [c, 1, 1] });
        } else {
          if (config.padding !== 'valid') throw new Error(`${layer.name}: only valid average pooling`);
          const out = graph.node('AveragePool', [x.name], { kernel_shape: pool, strides });
          values.set(layer.name, { name: out, shape: [c, Math.floor((h - pool[0]) / strides[0]) + 1, Math.floor((w - pool[1]) / strides[1]) + 1] });
        }
        break;
      }
      case 'Flatten': {
        const x = input(layer);
        // Keras flattens NHWC; a 1x1 map has the same order either way.
        const spatial = x.shape.length === 3 && (x.shape[1] !== 1 || x.shape[2] !== 1);
        const source = spatial ? graph.node('Transpose', [x.name], { perm: [0, 2, 3, 1] }) : x.name;
        values.set(layer.name, { name: graph.node('Flatten', [source], { axis: 1 }), shape: [x.shape.reduce((a, b) => a * b, 1)] });
        break;
      }
      case 'Dense': {
        const x = input(layer);
        const kernel = weight(`${layer.name}/kernel`);
        const units = config.units as number;
        const bias = config.use_bias ? weight(`${layer.name}/bias`).values : new Float32Array(units);
        const out = graph.node('Gemm', [x.name, graph.constant(`${layer.name}_W`, kernel.shape, kernel.values), graph.constant(`${layer.name}_B`, [units], bias)]);
        values.set(layer.name, activation(graph, { name: out, shape: [units] }, config.activation as string));
        break;
      }
      case 'Dropout':
        values.set(layer.name, input(layer));
        break;
      default:
        throw new Error(`${layer.name}: layer ${layer.class_name} is not supported by the converter`);
    }
  }
  const last = values.get(layers.at(-1)!.name)!;
  // Name the final output by a trailing Identity so the graph output name is stable.
  graph.node('Identity', [last.name], {}, IMAGE_OUTPUT_NAME);
  return graph.encode({
    name: 'nsfwjs_mobilenet_v2',
    input: { name: IMAGE_INPUT_NAME, shape: ['batch', size, size, 3] },
    output: { name: IMAGE_OUTPUT_NAME, shape: ['batch', last.shape[0]!] },
    producer: 'abuse-scan scripts/models/convert-nsfwjs.ts',
    metadata: { source: `nsfwjs@${artifacts.version}`, license: artifacts.license },
  });
}

function inbound(layer: KerasLayer): string[] {
  return (layer.inbound_nodes[0] ?? []).map(([name]) => name);
}

function activation(graph: OnnxGraph, value: Value, kind: string | undefined): Value {
  switch (kind ?? 'linear') {
    case 'linear':
      return value;
    case 'relu':
      return { name: graph.node('Relu', [value.name]), shape: value.shape };
    case 'softmax':
      return { name: graph.node('Softmax', [value.name], { axis: -1 }), shape: value.shape };
    default:
      throw new Error(`activation ${kind} unsupported`);
  }
}

/** w' = w * gamma / sqrt(var + eps) per output channel; b' = beta + (b - mean) * gamma / sqrt(var + eps). */
function foldBatchNorm(w: Float64Array, bias: Float64Array, bn: KerasLayer, weight: (name: string) => { values: Float32Array }) {
  const eps = bn.config.epsilon as number;
  const gamma = bn.config.scale === false ? undefined : weight(`${bn.name}/gamma`).values;
  const beta = bn.config.center === false ? undefined : weight(`${bn.name}/beta`).values;
  const mean = weight(`${bn.name}/moving_mean`).values;
  const variance = weight(`${bn.name}/moving_variance`).values;
  const perChannel = w.length / bias.length;
  for (let o = 0; o < bias.length; o++) {
    const factor = (gamma ? gamma[o]! : 1) / Math.sqrt(variance[o]! + eps);
    for (let i = 0; i < perChannel; i++) w[o * perChannel + i]! *= factor;
    bias[o] = (beta ? beta[o]! : 0) + (bias[o]! - mean[o]!) * factor;
  }
}

/** ONNX pads [top, left, bottom, right]: a pending ZeroPadding plus Keras 'same' (TF's rule: extra pixel at the end). */
function convPads(padding: string, pending: Value['pendingPad'], [ih, iw]: [number, number], [kh, kw]: [number, number], [sh, sw]: [number, number]): number[] {
  const pads = [...(pending ?? [0, 0, 0, 0])];
  if (padding === 'same') {
    const total = (size: number, k: number, s: number) => Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
    const th = total(ih, kh, sh);
    const tw = total(iw, kw, sw);
    pads[0]! += Math.floor(th / 2);
    pads[2]! += th - Math.floor(th / 2);
    pads[1]! += Math.floor(tw / 2);
    pads[3]! += tw - Math.floor(tw / 2);
  } else if (padding !== 'valid') throw new Error(`padding ${padding} unsupported`);
  return pads;
}
