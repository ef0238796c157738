/**
 * The `spillway` command's entry: `node src/cli/main.ts <command>` in development, `bin/spillway.js` when
 * installed. Everything is in program.ts; this file only binds it to the process.
 */
import { processContext } from './context.ts';
import { runCli } from './program.ts';

process.exitCode = await runCli(process.argv.slice(2), processContext());
