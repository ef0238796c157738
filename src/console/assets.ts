import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SpillwayError } from '../core/errors.ts';

/** One file the console serves: its bytes and content type. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

const TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

/**
 * The libraries the pages load, resolved from the installed packages (never a CDN). Preact's hooks import the bare
 * name `preact`, which a browser cannot resolve without an import map (an inline script the Content-Security-Policy
 * forbids), so that one import is rewritten to the served path.
 */
const VENDOR: Readonly<Record<string, { specifier: string; rewrite?: readonly [string, string] }>> = {
  'preact.mjs': { specifier: 'preact' },
  'hooks.mjs': { specifier: 'preact/hooks', rewrite: ['from"preact"', 'from"/console/vendor/preact.mjs"'] },
  'htm.mjs': { specifier: 'htm' },
  'uplot.mjs': { specifier: 'uplot/dist/uPlot.esm.js' },
  'uplot.css': { specifier: 'uplot/dist/uPlot.min.css' },
};

/**
 * Reads the console's files once: its own pages (src/console/web/) under `/console/static/`, and the libraries under
 * `/console/vendor/`. Throws SpillwayError when a library is missing or no longer has the import it rewrites.
 */
export function loadConsoleAssets(): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  const web = new URL('./web/', import.meta.url);
  for (const name of readdirSync(web)) {
    const ext = /^[a-z0-9-]+\.([a-z]+)$/.exec(name)?.[1];
    const contentType = ext === undefined ? undefined : TYPES[ext];
    if (contentType) assets.set(`/console/static/${name}`, { body: readFileSync(new URL(name, web)), contentType });
  }
  for (const [name, { specifier, rewrite }] of Object.entries(VENDOR)) {
    let text: string;
    try {
      text = readFileSync(fileURLToPath(import.meta.resolve(specifier)), 'utf8');
    } catch (err) {
      throw new SpillwayError(`loading the console's library ${specifier}: ${(err as Error).message}`, { cause: err });
    }
    if (rewrite) {
      if (!text.includes(rewrite[0])) {
        throw new SpillwayError(`loading the console's library ${specifier}: it no longer imports ${rewrite[0]}`);
      }
      text = text.replaceAll(rewrite[0], rewrite[1]);
    }
    const ext = name.split('.').pop() ?? '';
    assets.set(`/console/vendor/${name}`, { body: Buffer.from(text), contentType: TYPES[ext] ?? 'text/plain' });
  }
  return assets;
}
