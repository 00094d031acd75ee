/**
 * A test module for `deno test` (development only, used by dev/run-tests-on.ts): it loads one
 * compiled test file and marks the tests the runner leaves out on Deno as ignored, so that
 * they show as ignored in Deno's report instead of failing or vanishing.
 *
 * Deno's `--filter` takes a substring or a regular expression without look-around, so it
 * cannot say "every test but these"; Deno's `node:test` registers each test through
 * `Deno.test`, which this module wraps before it imports the file.
 *
 * Environment: LEAVE_OUT_FILE (the test file, a file: URL) and LEAVE_OUT_TESTS (a JSON array of
 * name prefixes). Prints `left out: <name>` for each test it marks.
 */
interface DenoTestDefinition { name: string; ignore?: boolean; fn?: unknown }
interface DenoLike {
  test: (...args: unknown[]) => unknown;
  env: { get(name: string): string | undefined };
}

const deno = (globalThis as unknown as { Deno?: DenoLike }).Deno;
if (deno === undefined) throw new Error('dev/deno-leave-out: run this module with `deno test`');
const file = deno.env.get('LEAVE_OUT_FILE');
if (file === undefined) throw new Error('dev/deno-leave-out: LEAVE_OUT_FILE is not set');
const prefixes = JSON.parse(deno.env.get('LEAVE_OUT_TESTS') ?? '[]') as string[];

const register = deno.test;
const leftOut = (name: unknown): boolean => typeof name === 'string' && prefixes.some((p) => name.startsWith(p));
deno.test = function (this: unknown, ...args: unknown[]): unknown {
  const [first] = args;
  // Deno.test(definition), Deno.test(name, fn), Deno.test(name, options, fn), Deno.test(fn)
  if (typeof first === 'object' && first !== null && leftOut((first as DenoTestDefinition).name)) {
    console.log(`left out: ${(first as DenoTestDefinition).name}`);
    args[0] = { ...(first as DenoTestDefinition), ignore: true };
  } else if (typeof first === 'string' && leftOut(first)) {
    console.log(`left out: ${first}`);
    const fn = args.find((a) => typeof a === 'function');
    const options = args.length === 3 && typeof args[1] === 'object' ? args[1] as object : {};
    args.splice(0, args.length, { ...options, name: first, fn, ignore: true });
  }
  return register.apply(this, args);
} as DenoLike['test'];
Object.assign(deno.test, register);   // Deno.test.ignore, .only and the rest

await import(file);
