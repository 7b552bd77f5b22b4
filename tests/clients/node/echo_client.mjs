// Third-party client check: Node's `ws` with its defaults, which offer permessage-deflate, echoes 100 messages
// of mixed types and sizes through the server and closes with 1000.
// Usage: node echo_client.mjs ws://127.0.0.1:PORT/path
import WebSocket from 'ws';

const url = process.argv[2];
const ws = new WebSocket(url);
const fail = (why) => { console.error(`node ws: ${why}`); process.exit(1); };
const timer = setTimeout(() => fail('timed out after 60 s'), 60000);

const messages = [];
for (let i = 0; i < 100; i++) {
  messages.push(i % 2 ? `message ${i} `.repeat(i % 7) : Buffer.alloc(i * 97, i % 256));
}
let next = 0;

ws.on('open', () => ws.send(messages[next]));
ws.on('message', (data, isBinary) => {
  const sent = messages[next];
  const same = typeof sent === 'string' ? !isBinary && data.toString() === sent : isBinary && Buffer.compare(data, sent) === 0;
  if (!same) fail(`message ${next} came back different`);
  next += 1;
  if (next < messages.length) ws.send(messages[next]);
  else ws.close(1000, 'done');
});
ws.on('close', (code) => {
  clearTimeout(timer);
  if (next !== messages.length) fail(`closed after ${next} echoes`);
  if (code !== 1000) fail(`closed with ${code}, expected 1000`);
  console.log(`node ws: 100 echoes, close 1000 ok (extensions offered: ${ws.extensions === '' ? 'declined' : ws.extensions})`);
  process.exit(0);
});
ws.on('error', (error) => fail(error.message));
