/**
 * Text that others wrote (a task's output, its command, a team name) made safe to print on a terminal: every control
 * character that could move the cursor, change colours, set the window title or hide text (C0 but line feed and tab,
 * DEL, C1, and the Unicode bidirectional overrides) is shown as an escape (`\x1b`, `\u202e`) instead of acting.
 * A `--raw` flag prints the text as it is, for people who want the colours.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Escapes the unsafe characters of `text`; line feeds and tabs stay as they are. */
export function escapeControl(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.codePointAt(0) ?? 0;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
