#!/usr/bin/env node
// The `spillway` command. An installed package runs the built JavaScript (Node does not strip types under
// node_modules); a checkout without a build runs the TypeScript sources directly on Node 24.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const built = new URL('../dist/cli/main.js', import.meta.url);
const source = new URL('../src/cli/main.ts', import.meta.url);
await import(existsSync(built) ? built.href : source.href);
