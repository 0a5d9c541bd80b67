// The e2e scripts' shared TAP-like reporting: one "ok - …" / "not ok - …" line per check and
// "N passed, N failed" as the last line (run.sh and test.sh add those up).
let passed = 0;
let failed = 0;
let prefix = '';

/** Prefixes every check name from now on with "[label] " (e.g. the store a run targets). */
export function label(name) {
  prefix = name ? `[${name}] ` : '';
}

export function pass(name) {
  passed++;
  console.log(`ok - ${prefix}${name}`);
}

export function fail(name, reason) {
  failed++;
  console.log(`not ok - ${prefix}${name}: ${reason}`);
}

export async function check(name, fn) {
  try {
    await fn();
    pass(name);
  } catch (err) {
    fail(name, err?.stack ?? err);
  }
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Prints the summary line; the exit code is non-zero when a check failed. */
export function summary() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}
