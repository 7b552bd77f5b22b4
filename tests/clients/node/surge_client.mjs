// surge.js from Node: the client surge-push serves at /surge.js, loaded as a CommonJS module with npm's `ws` as
// its WebSocket. It subscribes, gets text and binary publications (data as a string and as a Uint8Array), has
// its connection cut after the second, and must reconnect and resume so that it delivers offsets 1..5 once each.
// Usage: node surge_client.mjs ws://127.0.0.1:PORT/anything   (surge-push at that port; run_against_echo.sh)
import { createRequire } from 'module';
import { mkdtempSync, writeFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import WebSocket from 'ws';

const base = process.argv[2].replace(/^ws/, 'http').replace(/\/[^/]*$/, '');
const fail = (why) => { console.error(`surge.js in node: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('timed out after 30 s'), 30000);

const source = await (await fetch(`${base}/surge.js`)).text();
const directory = mkdtempSync(join(tmpdir(), 'surge-js-'));
writeFileSync(join(directory, 'surge.js'), source);
const SurgeClient = createRequire(import.meta.url)(join(directory, 'surge.js'));
rmSync(directory, { recursive: true });

const publish = async (body, type) => {
  const response = await fetch(`${base}/publish/node`, { method: 'POST', body, headers: { 'Content-Type': type } });
  if (response.status !== 200) fail(`publish answered ${response.status}`);
};

const seen = [];
let cut = false;
const client = new SurgeClient(`${base.replace(/^http/, 'ws')}/ws`, {
  WebSocket,
  topics: ['node'],
  minDelay: 50,
  onSubscribed: async (topic, answer) => {
    if (!cut && seen.length === 0) {
      await publish('one', 'text/plain');
      await publish(new Uint8Array([0, 1, 2, 255]), 'application/octet-stream');
    }
  },
  onMessage: async (m) => {
    seen.push(m);
    if (seen.length === 2 && !cut) {
      cut = true;
      client.socket.terminate();  // as a network would: no close frame
      await publish('three', 'text/plain');  // published while it is away
      await publish('four', 'text/plain');
      await publish('five', 'text/plain');
    }
    if (seen.length === 5) {
      clearTimeout(timer);
      client.close();
      const offsets = seen.map((s) => s.offset).join(',');
      if (offsets !== '1,2,3,4,5') fail(`offsets ${offsets}`);
      if (seen[0].data !== 'one' || seen[4].data !== 'five') fail('text data');
      if (!(seen[1].data instanceof Uint8Array) || seen[1].data.join(',') !== '0,1,2,255') fail('binary data');
      console.log('surge.js in node: 5 publications, text and binary, cut once and resumed: ok');
    }
  },
  onLost: (topic, info) => fail(`reported a loss: ${JSON.stringify(info)}`),
});
