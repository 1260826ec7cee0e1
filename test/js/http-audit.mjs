// Runs the GraphQL-over-HTTP audit suite of the npm graphql-http package against a
// billd server and prints every audit's result as JSON on stdout.
//
//   node http-audit.mjs http://127.0.0.1:8080/query   (BILLD_API_KEY in the environment)
//
// The audits send plain requests; every one carries the API key, which billd checks
// before anything else.
import { serverAudits } from 'graphql-http';

const [url] = process.argv.slice(2);
const key = process.env.BILLD_API_KEY;
if (!url || !key) {
  console.error('usage: BILLD_API_KEY=... node http-audit.mjs URL');
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('authorization', `Bearer ${key}`);
  return fetch(input, { ...init, headers });
};

const results = [];
for (const audit of serverAudits({ url, fetchFn })) {
  const result = await audit.fn();
  results.push({
    id: audit.id,
    name: audit.name,
    status: result.status,
    reason: result.status === 'ok' ? undefined : result.reason,
  });
}
console.log(JSON.stringify(results));
