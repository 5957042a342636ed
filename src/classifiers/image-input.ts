/**
 * Turns the pipeline's one decode (8-bit RGB, sides <= 512) into a model's input sample:
 * bilinear resize to the model's size, then (pixel * scale - mean) / std per channel, in the
 * layout the manifest names. The image is never decoded a second time. A frame with alpha is
 * first flattened onto white (what a viewer sees), once per frame for all the image models; the
 * decode keeps its stored RGB for PDQ.
 *
 * The resize samples like TensorFlow's resizeBilinear with alignCorners = true, which is what
 * nsfwjs applies before its model: corners map to corners, x_src = x_dst * (w_in - 1) / (w_out - 1).
 */
import { flattenOntoWhite } from '../images/alpha.js';
import type { DecodedFrame } from '../images/decode.js';
import type { ImageInputSpec } from './manifest.js';

export function imageSample(frame: Pick<DecodedFrame, 'data' | 'width' | 'height' | 'alpha'>, spec: ImageInputSpec): Float32Array {
  const { width: outW, height: outH } = spec;
  const { width: inW, height: inH } = frame;
  if (frame.data.length < inW * inH * 3) throw new Error(`frame has ${frame.data.length} bytes, expected ${inW * inH * 3} (RGB)`);
  const { data } = flattenOntoWhite(frame);
  const sample = new Float32Array(outW * outH * 3);
  const ratioY = outH > 1 ? (inH - 1) / (outH - 1) : 0;
  const ratioX = outW > 1 ? (inW - 1) / (outW - 1) : 0;
  const plane = outW * outH;
  const channel = [0, 1, 2].map((c) => ({ a: spec.scale / spec.std[c]!, b: -spec.mean[c]! / spec.std[c]! }));
  for (let y = 0; y < outH; y++) {
    const sy = y * ratioY;
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, inH - 1);
    const fy = sy - y0;
    for (let x = 0; x < outW; x++) {
      const sx = x * ratioX;
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, inW - 1);
      const fx = sx - x0;
      const p00 = (y0 * inW + x0) * 3;
      const p01 = (y0 * inW + x1) * 3;
      const p10 = (y1 * inW + x0) * 3;
      const p11 = (y1 * inW + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const top = data[p00 + c]! + (data[p01 + c]! - data[p00 + c]!) * fx;
        const bottom = data[p10 + c]! + (data[p11 + c]! - data[p10 + c]!) * fx;
        const value = (top + (bottom - top) * fy) * channel[c]!.a + channel[c]!.b;
        if (spec.layout === 'NHWC') sample[(y * outW + x) * 3 + c] = value;
        else sample[c * plane + y * outW + x] = value;
      }
    }
  }
  return sample;
}

/** The sample's dimensions without the batch, in the spec's layout. */
export function imageSampleDims(spec: ImageInputSpec): number[] {
  return spec.layout === 'NHWC' ? [spec.height, spec.width, 3] : [3, spec.height, spec.width];
}
