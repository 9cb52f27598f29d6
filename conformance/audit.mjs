// Runs the graphql-http server audit against a live Maestro and fails on any MUST audit.
// Usage: node audit.mjs [url]   (default http://127.0.0.1:8000/graphql)
import { auditServer } from 'graphql-http';

const url = process.argv[2] || process.env.MAESTRO_URL || 'http://127.0.0.1:8000/graphql';
const results = await auditServer({ url });

let mustFailed = 0;
let shouldFailed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  const mark = r.status === 'ok' ? 'ok  ' : r.status === 'warn' ? 'WARN' : 'FAIL';
  console.log(`${mark} ${r.id} ${r.name}${r.status === 'ok' ? '' : ` — ${r.reason}`}`);
  if (r.status === 'error') mustFailed += 1;
  if (r.status === 'warn' && level !== 'MAY') shouldFailed += 1;
}
const ok = results.filter((r) => r.status === 'ok').length;
console.log(`graphql-http audit: ${ok} of ${results.length} audits ok; MUST failures: ${mustFailed}; SHOULD warnings: ${shouldFailed}`);
process.exit(mustFailed === 0 ? 0 : 1);
