/**
 * `node join-main.ts --url ... --munge-key FILE`: the join step a Slurm cloud node's boot script runs (see join.ts).
 * Prints the node's name on stdout; logs go to stderr.
 */
import { errorMessage } from '../../core/errors.ts';
import { joinMain } from './join.ts';

joinMain(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`spillway slurm join: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
