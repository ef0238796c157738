import { CommanderError, type Command, type Option } from 'commander';
import { buildProgram } from '../../src/cli/program.ts';

/**
 * Checks a `spillway ...` command line as the README writes it against the real command tree (src/cli/program.ts),
 * without running anything: the program is built as `spillway` builds it, and a preAction hook stops it just before
 * an action would run. Commander therefore applies everything it checks at parse time (unknown commands and flags,
 * missing arguments and required flags, choices), and nothing is sent or started.
 *
 * The README also writes synopses (`tasks [--state S,… --limit N]`, `--format table|json`, `run <submit flags> --
 * CMD…`): brackets are dropped and their contents kept, `a|b` stands for each alternative in turn, `<...>` is a
 * placeholder for flags shown elsewhere and is dropped, and `…` / `...` alone means "and more".
 */

class ParsedOnly extends Error {}

/** Splits a shell line into words: single and double quotes and backslashes as sh does; no expansion. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i] ?? '';
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unclosed ${c} in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[i + 1];
      i += 1;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * The argument lists (after `spillway`) one synopsis stands for: one with the first alternative of every `a|b` word,
 * then one per further alternative of each word. Words after `--` are the task's own and are kept as they are.
 */
export function expandSynopsis(words: readonly string[]): string[][] {
  const end = words.indexOf('--');
  const flagsPart = end < 0 ? [...words] : words.slice(0, end);
  const rest = end < 0 ? [] : words.slice(end);
  const kept: string[] = [];
  let inPlaceholder = false;
  for (const raw of flagsPart) {
    const word = raw.replace(/[[\]]/g, '');
    if (word.startsWith('<')) inPlaceholder = true;
    if (inPlaceholder) {
      if (word.endsWith('>')) inPlaceholder = false;
      continue;
    }
    if (word === '' || word === '…' || word === '...') continue;
    kept.push(word);
  }
  const choices = kept.map((word) => (word.startsWith('-') || !word.includes('|') ? [word] : word.split('|')));
  const base = choices.map((alternatives) => alternatives[0] ?? '');
  const variants = [[...base, ...rest]];
  choices.forEach((alternatives, index) => {
    for (const alternative of alternatives.slice(1)) {
      const variant = [...base];
      variant[index] = alternative;
      variants.push([...variant, ...rest]);
    }
  });
  return variants;
}

function flagNames(option: Option): string[] {
  return [option.long, option.short].filter((name): name is string => name !== undefined);
}

/** The command a path of words leads to, and the words it consumed. */
function resolvePath(program: Command, args: readonly string[]): { path: Command[]; consumed: number } {
  const path = [program];
  let consumed = 0;
  for (const word of args) {
    const current = path[path.length - 1] ?? program;
    const sub = current.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) break;
    path.push(sub);
    consumed += 1;
  }
  return { path, consumed };
}

/**
 * Problems with `args` (the words after `spillway`) as the real program sees them, or [] when it parses. Besides what
 * commander checks, every flag word must be a flag of the command it is given to (commander would take an unknown
 * word after a flag that wants a value as that value), and a flag that wants a value must be followed by one.
 */
export async function cliProblems(args: readonly string[]): Promise<string[]> {
  let errText = '';
  const sink = { write: () => true };
  const program = buildProgram({
    ctx: {
      stdout: sink,
      stderr: {
        write: (text: string) => {
          errText += text;
          return true;
        },
      },
      env: {},
      cwd: '/nonexistent',
    },
    setExitCode: () => undefined,
  });
  const { path, consumed } = resolvePath(program, args);
  const target = path[path.length - 1] ?? program;
  if (consumed === args.length) return []; // a command named in prose: `spillway`, `spillway policy`
  const problems: string[] = [];
  const end = args.indexOf('--');
  const flagWords = (end < 0 ? args : args.slice(0, end)).slice(consumed);
  const options = path.flatMap((cmd) => cmd.options);
  for (let i = 0; i < flagWords.length; i += 1) {
    const word = flagWords[i] ?? '';
    if (!word.startsWith('-') || word === '-') continue;
    const name = word.split('=')[0] ?? word;
    if (name === '--help' || name === '-h') continue;
    const option = options.find((o) => flagNames(o).includes(name));
    if (!option) {
      problems.push(`${target.name()} has no flag ${name}`);
      continue;
    }
    if (option.required && !word.includes('=')) {
      const value = flagWords[i + 1];
      if (value === undefined || (value.startsWith('-') && value !== '-')) {
        problems.push(`${name} of ${target.name()} needs a value, got ${value ?? 'nothing'}`);
      }
      i += 1;
    }
  }
  program.hook('preAction', () => {
    throw new ParsedOnly();
  });
  try {
    await program.parseAsync([...args], { from: 'user' });
    problems.push('parsed without reaching an action');
  } catch (err) {
    const fine =
      err instanceof ParsedOnly ||
      (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version'));
    if (!fine) problems.push(err instanceof CommanderError ? (errText.split('\n')[0] ?? err.message) : String(err));
  }
  return problems;
}
