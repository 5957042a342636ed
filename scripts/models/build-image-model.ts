/** Writes models/nsfw-mobilenet-v2.onnx from nsfwjs's weights; prints its sha256. */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { convertNsfwjs } from './convert-nsfwjs.js';
import { loadNsfwjsArtifacts } from './nsfwjs-artifacts.js';

export function buildImageModel(outFile: string): { sha256: string; bytes: number; sourceVersion: string } {
  const artifacts = loadNsfwjsArtifacts();
  const bytes = convertNsfwjs(artifacts);
  writeFileSync(outFile, bytes);
  return { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength, sourceVersion: artifacts.version };
}
