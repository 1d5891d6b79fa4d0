/** Measures operations per CPU second in interleaved rounds, so that load from other processes hits every candidate alike (the approach of packages/core/bench). */

/** One implementation under test: `run` verifies once (and may return a promise). */
export interface Candidate {
  readonly name: string
  readonly run: () => unknown
  readonly async?: boolean
}

/** What {@link measure} returns: each candidate's ops per CPU second, one entry per round. */
export type Rounds = readonly (readonly number[])[]

/**
 * CPU milliseconds this process has used, all threads included (WebCrypto
 * signs on the libuv pool). CPU time, unlike the wall clock, does not grow when
 * other processes take the cores.
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

let checksum = 0
function sink(value: unknown): void {
  checksum += value === undefined ? 0 : 1
}

/** `true` once something was measured: results flowed into the sink, so no call was optimised away. */
export function measuredSomething(): boolean {
  return checksum > 0
}

async function opsPerCpuSecond(candidate: Candidate, ms: number): Promise<number> {
  let ops = 0
  let chunk = 1
  const start = cpuMs()
  let elapsed = 0
  while (elapsed < ms) {
    if (candidate.async) for (let i = 0; i < chunk; i++) sink(await candidate.run())
    else for (let i = 0; i < chunk; i++) sink(candidate.run())
    ops += chunk
    elapsed = cpuMs() - start
    if (elapsed < ms / 20) chunk *= 2
  }
  return (ops / elapsed) * 1000
}

/**
 * Runs every candidate once per round for `roundMs` of CPU time, forwards on
 * even rounds and backwards on odd ones (ABBA), after a warm-up of each.
 */
export async function measure(
  candidates: readonly Candidate[],
  rounds: number,
  roundMs: number,
): Promise<Rounds> {
  for (const candidate of candidates) await opsPerCpuSecond(candidate, roundMs * 5)
  const rates: number[][] = candidates.map(() => [])
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < candidates.length; k++) {
      const i = round % 2 === 0 ? k : candidates.length - 1 - k
      rates[i]?.push(await opsPerCpuSecond(candidates[i] as Candidate, roundMs))
    }
  }
  return rates
}

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** The median of the per-round ratios `a / b`: steadier on a shared machine than a ratio of medians. */
export function medianRatio(a: readonly number[], b: readonly number[]): number {
  return median(a.map((x, i) => x / (b[i] as number)))
}
