import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/fleet.js';

const run = promisify(execFile);
const PLATFORMS = ['darwin/arm64', 'linux/arm64', 'linux/x64', 'win32/arm64', 'win32/x64'];

/** The shell commands of the build stage's RUN that follow `npm prune --omit=dev`, as docker joins its lines. */
async function binaryPruning(): Promise<string> {
  const dockerfile = await readFile(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const step = /^RUN (npm run build && npm prune --omit=dev(?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1];
  expect(step, 'the build stage RUN with npm prune').toBeDefined();
  const joined = step!.replace(/\\\n/g, '');
  return joined.slice(joined.indexOf('npm prune --omit=dev') + 'npm prune --omit=dev'.length).replace(/^\s*&&/, '');
}

/** A node_modules/onnxruntime-node/bin laid out as the package ships it, for the given platforms. */
async function fakePackage(platforms: string[]): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'onnx-bin-'));
  for (const platform of platforms) {
    const dir = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6', platform);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'onnxruntime_binding.node'), 'binary');
  }
  return root;
}

describe('the Dockerfile keeps only the image platform\'s onnxruntime-node binaries', () => {
  const roots: string[] = [];
  afterAll(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });
  const sh = async (root: string) => run('sh', ['-ec', await binaryPruning()], { cwd: root, env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } });

  it('removes every other platform and architecture, keeping the one node loads here', async () => {
    const root = await fakePackage(PLATFORMS);
    roots.push(root);
    await sh(root);
    const { stdout } = await run('find', ['node_modules/onnxruntime-node/bin', '-mindepth', '1'], { cwd: root });
    const own = `napi-v6/${process.platform}/${process.arch}`;
    expect(stdout.trim().split('\n').sort()).toEqual(
      ['napi-v6', `napi-v6/${process.platform}`, own, `${own}/onnxruntime_binding.node`].map((p) => `node_modules/onnxruntime-node/bin/${p}`).sort(),
    );
  });

  it('fails the build when the package has no binary for the image platform', async () => {
    const root = await fakePackage(PLATFORMS.filter((platform) => platform !== `${process.platform}/${process.arch}`));
    roots.push(root);
    await expect(sh(root)).rejects.toMatchObject({ code: expect.any(Number) });
    // Nothing was removed.
    const { stdout } = await run('find', ['node_modules/onnxruntime-node/bin', '-name', 'onnxruntime_binding.node'], { cwd: root });
    expect(stdout.trim().split('\n')).toHaveLength(PLATFORMS.length - 1);
  });
});
