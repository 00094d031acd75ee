/**
 * A context that refuses code generation from strings (a page under a Content-Security-Policy
 * without 'unsafe-eval'), as Node with `--disallow-code-generation-from-strings`: the whole
 * layout test file, its worker included, runs in such a child and passes, on cursors built of
 * closures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const FLAG = '--disallow-code-generation-from-strings';

test(`${FLAG} refuses new Function in a child (what the next test relies on)`, async () => {
  const { stdout } = await exec(process.execPath, [FLAG, '-p', 'try { new Function("return 1"); "allowed" } catch (e) { e.name }'], { timeout: 20_000 });
  assert.equal(stdout.trim(), 'EvalError');
});

test(`defineLayout and its cursors pass the layout tests under ${FLAG}`, { timeout: 120_000 }, async () => {
  const file = fileURLToPath(new URL('../layout.test.js', import.meta.url));
  // A runner of its own in the child, not a subtest reporting to this one.
  const env = { ...process.env };
  delete env['NODE_TEST_CONTEXT'];
  const { stdout } = await exec(process.execPath, [FLAG, '--test', '--test-reporter=tap', file], { env, timeout: 110_000, maxBuffer: 16 << 20 })
    .catch((e: { stdout?: string; message: string }) => ({ stdout: e.stdout ?? e.message }));
  const count = (what: string): number => Number(new RegExp(`^# ${what} (\\d+)$`, 'm').exec(stdout)?.[1] ?? -1);
  assert.equal(count('fail'), 0, stdout.split('\n').filter((l) => /^\s*not ok|rror/.test(l)).slice(0, 20).join('\n'));
  assert.ok(count('pass') >= 15, `passed ${count('pass')}`);
});
