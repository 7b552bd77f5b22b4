// Third-party client check: Node's `ws` with permessage-deflate on (every message compressed: threshold 0),
// across combinations of what it can offer (context takeover on either side, the server's window 9..15 or
// unasked, the client's window). For each, the agreed extension must hold what was asked, 30 messages of mixed
// types and sizes must echo intact, and far fewer bytes than the messages must come back: the server compressed.
// Usage: node deflate_client.mjs MODE ws://127.0.0.1:PORT/path   (MODE: the server's --deflate, shared|dedicated)
import WebSocket from 'ws';

const [mode, url] = process.argv.slice(2);
const fail = (why) => { console.error(`node ws deflate: ${why}`); process.exit(1); };
setTimeout(() => fail('timed out after 120 s'), 120000).unref();

const messages = [];
for (let i = 0; i < 30; i++) {
  if (i % 3 === 0) messages.push('{"topic":"prices","bid":42017.5,"ask":42018.0} '.repeat(1 + i));
  else if (i % 3 === 1) messages.push(Buffer.from(Array.from({ length: 64 * (1 + i) }, (_, k) => k % 64)));
  else messages.push(i % 2 ? '' : 'é€ text '.repeat(i));
}
const bytesOf = (m) => (typeof m === 'string' ? Buffer.byteLength(m) : m.length);

function run(offer) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: { ...offer, threshold: 0 } });
    const label = JSON.stringify(offer);
    let next = 0;
    let agreed = '';
    ws.on('upgrade', (response) => { agreed = response.headers['sec-websocket-extensions'] || ''; });
    ws.on('open', () => {
      if (!agreed.startsWith('permessage-deflate')) fail(`${label}: not agreed (${agreed})`);
      const serverNo = offer.serverNoContextTakeover || mode === 'shared';
      if (agreed.includes('server_no_context_takeover') !== serverNo) fail(`${label}: answer ${agreed}`);
      if (offer.serverMaxWindowBits && !agreed.includes(`server_max_window_bits=${offer.serverMaxWindowBits}`)) {
        fail(`${label}: answer ${agreed}`);
      }
      ws.send(messages[next]);
    });
    ws.on('message', (data, isBinary) => {
      const sent = messages[next];
      const same = typeof sent === 'string' ? !isBinary && data.toString() === sent
                                            : isBinary && Buffer.compare(data, sent) === 0;
      if (!same) fail(`${label}: message ${next} came back different`);
      next += 1;
      if (next < messages.length) ws.send(messages[next]);
      else ws.close(1000, 'done');
    });
    ws.on('close', (code) => {
      if (next !== messages.length || code !== 1000) fail(`${label}: closed with ${code} after ${next} echoes`);
      resolve(ws._socket ? ws._socket.bytesRead : 0);
    });
    ws.on('error', (error) => fail(`${label}: ${error.message}`));
  });
}

const offers = [];
// clientNoContextTakeover is left unset rather than false: `ws` takes an explicit false to mean that the server
// may not ask it, which a shared server does.
for (const serverNoContextTakeover of [false, true]) {
  for (const clientNoContextTakeover of [undefined, true]) {
    for (const serverMaxWindowBits of [undefined, 9, 11, 15]) {
      for (const clientMaxWindowBits of [undefined, true, 9, 13]) {
        const offer = { serverNoContextTakeover };
        if (clientNoContextTakeover) offer.clientNoContextTakeover = true;
        if (serverMaxWindowBits) offer.serverMaxWindowBits = serverMaxWindowBits;
        if (clientMaxWindowBits) offer.clientMaxWindowBits = clientMaxWindowBits;
        offers.push(offer);
      }
    }
  }
}
const total = messages.reduce((sum, m) => sum + bytesOf(m), 0);
let received = 0;
for (const offer of offers) {
  const read = await run(offer);
  if (read * 3 > total) fail(`${JSON.stringify(offer)}: ${read} bytes came back for ${total}: not compressed`);
  received += read;
}
console.log(`node ws permessage-deflate, server ${mode}: ${offers.length} combinations echoed; ` +
            `${offers.length * total} bytes of messages came back as ${received} bytes`);
process.exit(0);
