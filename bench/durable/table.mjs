// Prints the markdown table from bench.mjs --json outputs: node bench/durable/table.mjs ref.json tokenflow.json
import { readFileSync } from 'node:fs';
const runs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const ms = (x) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) : 'n/a');
const tailers = runs[0].latency.map((l) => l.tailers);
const writers = runs[0].appends.map((a) => a.writers);
console.log(`| server | ${writers.map((w) => `appends/s ${w} writer${w > 1 ? 's' : ''}`).join(' | ')} | ${tailers.map((t) => `p50 / p99 ms, ${t} tailer${t > 1 ? 's' : ''}`).join(' | ')} |`);
console.log(`|---|${writers.map(() => '---:').join('|')}|${tailers.map(() => '---:').join('|')}|`);
for (const r of runs) {
  const latency = tailers.map((t) => r.latency.find((l) => l.tailers === t));
  console.log(`| ${r.label} | ${r.appends.map((a) => f0(a.appendsPerSec)).join(' | ')} | ${latency.map((l) => (l ? `${ms(l.p50)} / ${ms(l.p99)}${l.missing ? ` (${l.missing} missing)` : ''}` : '—')).join(' | ')} |`);
}
for (const r of runs.slice(1)) {
  console.log(`\nappend ratio ${r.label}/${runs[0].label}: ` + writers.map((w, i) => `${w}w ${(r.appends[i].appendsPerSec / runs[0].appends[i].appendsPerSec).toFixed(2)}x`).join(', '));
}
console.log('\nCPU during each phase (% of one core; 200% = both cores) and errors:');
for (const r of runs) {
  for (const a of r.appends) console.log(`- ${r.label} appends ${a.writers}w: client ${f0(a.clientCpuPct)}%, server ${f0(a.serverCpuPct)}%, ok ${a.ok}, errors ${a.errors}${a.errors ? ' ' + JSON.stringify(a.statuses) + ' ' + a.errorSamples.join('; ') : ''}`);
  for (const l of r.latency) console.log(`- ${r.label} ${l.tailers} tailers: client ${f0(l.clientCpuPct)}%, server ${f0(l.serverCpuPct)}%, delivered ${l.delivered}/${l.expectedDeliveries}, max ${ms(l.max)} ms, writer ok ${l.writer.ok}/${l.writer.sent} (max send lag ${ms(l.writer.maxLagMs)} ms), tailer errors ${l.errorCount}${l.errorCount ? ' ' + l.errors.slice(0, 3).join('; ') : ''}`);
}
