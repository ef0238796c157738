/**
 * GPU model names, as tasks ask for them (`A100`, `a100`, `A100-80GB`) and as offerings carry them in their
 * `gpu.model` label (`A100-40GB`, `L4`, `H100-80GB-MEGA`).
 *
 * The rule, in two steps:
 * 1. **Normalise** both names: trim, upper-case, and turn runs of spaces and underscores into one dash
 *    (`a100 80gb` -> `A100-80GB`).
 * 2. **Match**: a requested name matches an offered name when they are equal, or when the offered name starts with
 *    the requested name followed by a dash. The dash-separated suffix is a variant of the same chip (memory size,
 *    form factor), so `A100` matches `A100-40GB` and `A100-80GB`, `H100` matches `H100-80GB-MEGA`, and
 *    `A100-80GB` matches only `A100-80GB`. A different chip whose name merely starts with the same letters does not
 *    match: `T4` does not match `T4G`, `L4` does not match `L40S`.
 *
 * The price book names AWS GPUs by the model DescribeInstanceTypes reports, followed by the memory per GPU in whole
 * GiB (`a100` with 40960 MiB -> `A100-40GB`), and GCE GPUs by the accelerator name Google uses (`A100-40GB`, `L4`).
 */
export function normalizeGpuModel(name: string): string {
  return name
    .trim()
    .toUpperCase()
    .replace(/[\s_]+/g, '-');
}

/** Whether an offering whose GPUs are `offered` satisfies a task that asks for `requested` (see the rule above). */
export function gpuModelMatches(requested: string, offered: string): boolean {
  const want = normalizeGpuModel(requested);
  const have = normalizeGpuModel(offered);
  if (want === '') return false;
  return have === want || have.startsWith(`${want}-`);
}
