// watch-run.mjs subscribes to one bill run with the graphql-ws client (protocol
// graphql-transport-ws) and prints what it received as one JSON line:
//   BILLD_API_KEY=... node watch-run.mjs ws://127.0.0.1:8080/query RUN_ID
// The key travels in connection_init, as browsers must send it.
// It exits 0 when the subscription completed, 1 on an error or a timeout.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, runId] = process.argv.slice(2);
if (!url || !runId) {
  console.error('usage: node watch-run.mjs WS_URL RUN_ID');
  process.exit(2);
}

const client = createClient({
  url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: true,
  connectionParams: { Authorization: `Bearer ${process.env.BILLD_API_KEY || ''}` },
});
const events = [];
const query = `subscription ($id: ID!) {
  billRunProgress(id: $id) {
    kind message account { id }
    billRun { id status accountsTotal accountsProcessed accountsFailed invoicesCreated chargesCreated
              totals { currency { code } amount } }
  }
}`;

const timer = setTimeout(() => {
  console.log(JSON.stringify({ error: 'timeout', events }));
  process.exit(1);
}, 120000);

client.subscribe({ query, variables: { id: runId } }, {
  next: (msg) => {
    if (msg.errors) {
      console.log(JSON.stringify({ error: msg.errors, events }));
      process.exit(1);
    }
    events.push(msg.data.billRunProgress);
  },
  error: (err) => {
    console.log(JSON.stringify({ error: String(err && err.message || err), events }));
    process.exit(1);
  },
  complete: async () => {
    clearTimeout(timer);
    console.log(JSON.stringify({ completed: true, events }));
    await client.dispose();
    process.exit(0);
  },
});
