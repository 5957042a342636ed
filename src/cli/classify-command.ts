import type { Command } from 'commander';
import { openClassifiers, type Classifiers, type ModelScore } from '../classifiers/index.js';
import { defaultManifestPath, describeManifestPath } from '../classifiers/manifest.js';
import { classifierOptions } from '../classifiers/model-signals.js';
import { ScanError, toScanError } from '../errors.js';
import { decodeImage } from '../images/index.js';
import { canonicalize, parseLikeBrowser, type CanonicalUrl } from '../links/canonicalize.js';
import { registrableDomainOf } from '../links/registrable-domain.js';
import { formatScore } from '../policy/decide.js';
import { notVisitableReason, urlModelSkipReason } from '../signals/url-model/index.js';
import { CliError } from './cli-errors.js';
import { loadCliConfig } from './cli-config.js';
import { readRegularFile } from './regular-file.js';
import { terminalSafe } from './terminal-text.js';

interface ClassifyFlags {
  json?: boolean;
}

interface ClassifyResult {
  input: string;
  scores: ModelScore[];
  error?: { code: string; message: string };
  /** Why no model scored this URL: one the fleet's url-model skips (a private address, .example, ...). */
  notScored?: string;
}

/**
 * `abuse-scan classify image|url`: runs the manifest's models on files or URLs, in this process,
 * and prints every model's label probabilities, abuse score and suggestion. Images are decoded
 * exactly as the pipeline decodes them; a URL the fleet does not score is reported as not scored.
 * Exit 0 when all allow, 2 on review, 3 on block, 1 on an error or an input not scored (no score
 * is no verdict: 0 would read as "allow").
 */
async function classify(task: 'image' | 'url', inputs: string[], flags: ClassifyFlags): Promise<void> {
  // Asked for by name: run the models even when workers are configured without them.
  const options = classifierOptions({ ...loadCliConfig(), models: true }) ?? {};
  const classifiers = await openClassifiers({ ...options, tasks: [task] });
  try {
    // No model ran is no verdict: exit 0 would read as "allow".
    if (classifiers[task].length === 0) {
      throw new CliError('no model', `the model manifest ${describeManifestPath(options.manifestPath ?? defaultManifestPath())} has no ${task} model`);
    }
    // Every input at once: the session pool batches them.
    const results = await Promise.all(inputs.map((input) => classifyOne(classifiers, task, input)));
    let exit = 0;
    for (const result of results) {
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatResult(result));
      if (result.error || result.notScored) exit = Math.max(exit, 1);
      for (const score of result.scores) exit = Math.max(exit, score.suggests === 'block' ? 3 : score.suggests === 'review' ? 2 : 0);
    }
    process.exitCode = exit;
  } finally {
    await classifiers.close();
  }
}

async function classifyOne(classifiers: Classifiers, task: 'image' | 'url', input: string): Promise<ClassifyResult> {
  try {
    if (task === 'url') {
      const url = linkToClassify(input);
      // What a scan skips is not scored here either: a score would contradict `scan url`.
      const notScored = urlModelSkipReason(url, registrableDomainOf(url));
      if (notScored) return { input, scores: [], notScored: `${notScored}: the URL models score public web hosts only` };
      return { input, scores: await Promise.all(classifiers.url.map((c) => c.classifyUrl(url))) };
    }
    // Only regular files, 50 MiB at most (a FIFO would wait for a writer for ever, /dev/zero fill memory).
    const bytes = await readRegularFile(input).catch((error: unknown) => {
      if (error instanceof CliError) throw new ScanError('path_not_found', `${input}: ${error.reason}`);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ScanError('path_not_found', `${input}: ${(error as Error).message}`);
      throw error;
    });
    const decoded = await decodeImage(bytes);
    return { input, scores: await Promise.all(classifiers.image.map((c) => c.classifyFrame(decoded.frames[0]!))) };
  } catch (thrown) {
    const error = toScanError(thrown);
    return { input, scores: [], error: { code: error.code, message: error.message } };
  }
}

/**
 * The input as a link the pipeline would score: canonicalized (typed errors: invalid_url,
 * invalid_host, url_too_long), http(s), and a URL a browser could visit (else invalid_url, worded
 * as the scan's skip: see notVisitableReason). A bare host is read as http://host/.
 */
function linkToClassify(input: string): CanonicalUrl {
  // Control characters escaped, as a scan reads a link (see canonicalize).
  const url = canonicalize(input, { controlCharacters: 'escape' });
  if (url.scheme !== 'http' && url.scheme !== 'https') throw new ScanError('unsupported_scheme', `${url.scheme}: URLs are not scored by the URL models`, { scheme: url.scheme });
  if (parseLikeBrowser(input, url.scheme) === null) throw new ScanError('invalid_url', notVisitableReason(input));
  return url;
}

function formatResult(result: ClassifyResult): string {
  const lines = [result.input];
  if (result.error) lines.push(`  error ${result.error.code}: ${result.error.message}`);
  if (result.notScored) lines.push(`  not scored: ${result.notScored}`);
  for (const score of result.scores) {
    const labels = Object.entries(score.labels)
      .map(([label, p]) => `${label} ${formatScore(p, 4)}`)
      .join(', ');
    lines.push(`  ${score.suggests.padEnd(6)} ${formatScore(score.abuseScore, 4)}  ${score.model}@${score.version}  (${labels})`);
    if (score.capped) lines.push(`         capped from ${score.capped.from}: ${score.capped.reason}`);
  }
  // The input and error messages quoting it are outside text; the models' own names and labels too.
  return `${lines.map(terminalSafe).join('\n')}\n`;
}

export function registerClassifyCommand(program: Command): void {
  const command = program
    .command('classify')
    .description('run the ONNX models of the model manifest (models/manifest.json, or ABUSE_SCAN_MODELS_MANIFEST) on images or URLs and print their scores (exit 0 allow, 2 review, 3 block, 1 error or not scored)');
  command
    .command('image')
    .argument('<file...>', 'image files')
    .option('--json', 'one JSON line per input')
    .description('score image files with every image model')
    .action((files: string[], flags: ClassifyFlags) => classify('image', files, flags));
  command
    .command('url')
    .argument('<url...>', 'URLs (a bare host is read as https://host/)')
    .option('--json', 'one JSON line per input')
    .description('score URLs with every URL model (on their text: nothing is fetched); URLs a scan does not score (private or loopback addresses, localhost, .test, .example and other special-use names) are reported as not scored')
    .action((urls: string[], flags: ClassifyFlags) => classify('url', urls, flags));
}
