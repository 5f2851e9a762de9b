/**
 * The garbage collector of a master started by `caliper start`, set before the master's modules load
 * (master/cli.ts): V8 marks the heap on the main thread, in steps tied to allocation, instead of on
 * its helper threads (concurrent marking, four threads in Node 20). A program that calls
 * startMaster() itself can call tuneMasterGc() first.
 *
 * Why: a busy log makes the master allocate Buffers fast (each socket read, each 256 KiB output
 * frame). Once an idle spell has let V8 shrink the heap, their external memory starts full marking
 * cycles that the helper threads end within about 70 ms, one after another: five collections of the
 * whole heap during one 50 MiB log, 300-400 ms more CPU, the log at 105-128 MiB/s where it ran at
 * 160-221 with marking on the main thread (docs/performance.md, "The log after an idle spell").
 * Without such a spell the two measured alike. `CALIPER_CONCURRENT_MARKING=1` keeps V8's default.
 *
 * Set at run time, first thing: V8 reads the flag when a marking cycle starts, and none has yet
 * (node:v8 setFlagsFromString; the flag is not one NODE_OPTIONS accepts).
 */
import v8 from 'node:v8';

/** The V8 flags the master runs with, given its environment. */
export function masterGcFlags(env: NodeJS.ProcessEnv): string[] {
  return env.CALIPER_CONCURRENT_MARKING === '1' ? [] : ['--no-concurrent-marking'];
}

/** Sets masterGcFlags() on this process (through `set`); returns what was set. */
export function tuneMasterGc(
  env: NodeJS.ProcessEnv = process.env,
  set: (flag: string) => void = (f) => v8.setFlagsFromString(f),
): string[] {
  const flags = masterGcFlags(env);
  for (const flag of flags) set(flag);
  return flags;
}
