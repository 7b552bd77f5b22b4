// surge-push's GET /: one page (no external scripts, styles or fonts; its client is surge-push's own /surge.js)
// that subscribes to a topic over WebSocket, lists messages as they arrive (time, topic, offset, data), and
// publishes one over HTTP. Layer: tools.
// The element ids (status, messages, topic, message, token, publish, result) are what the browser test reads.
#pragma once

#include <string_view>

namespace surge::push {

inline constexpr std::string_view kPage = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>surge-push</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  form { display: flex; gap: .5rem; margin: .6rem 0; flex-wrap: wrap; }
  input, textarea { font: inherit; padding: .3rem .4rem; }
  textarea { flex: 1 1 20rem; height: 2.2rem; }
  #status { font-weight: 600; }
  #messages { list-style: none; padding: 0; border-top: 1px solid #ddd; }
  #messages li { padding: .35rem 0; border-bottom: 1px solid #eee; white-space: pre-wrap; word-break: break-word; }
  #messages time, #messages .where { color: #888; margin-right: .6rem; font-size: .85em; }
  #result { color: #555; }
</style>
</head>
<body>
<h1>surge-push</h1>
<form id="subscribe-form">
  <label>Topic <input id="topic" value="news" required></label>
  <button>Subscribe</button>
  <span id="status">connecting</span>
</form>
<form id="publish-form">
  <textarea id="message" placeholder="a message for every subscriber of the topic"></textarea>
  <input id="token" placeholder="token (if the server has one)" size="18">
  <button id="publish">Publish</button>
  <span id="result"></span>
</form>
<ol id="messages"></ol>
<script src="surge.js"></script>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("topic")) $("topic").value = params.get("topic");
let client = null;

function show(text, where) {
  const item = document.createElement("li");
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString();
  const place = document.createElement("span");
  place.className = "where";
  place.textContent = where;
  item.append(time, place, text);
  $("messages").prepend(item);
  while ($("messages").children.length > 200) $("messages").lastChild.remove();
}

function subscribe() {
  if (client) client.close();
  const topic = $("topic").value.trim();
  // Relative to the page, so that it works under a proxy's path prefix (/push/ -> /push/ws) as well as at /.
  const url = new URL("ws", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  // surge.js reconnects by itself and resumes from the last offset shown: nothing is missed or shown twice.
  client = new SurgeClient(url.href, {
    topics: [topic],
    onMessage: (m) => show(typeof m.data === "string" ? m.data : "[" + m.data.length + " bytes of binary]",
                           m.topic + " #" + m.offset),
    onSubscribed: () => { $("status").textContent = "subscribed to " + topic; },
    onLost: (t, info) => show("publications " + (info.from + 1) + " to " + info.now + " were missed (the server " +
                              "no longer had them)", t + " lost"),
    onStatus: (status) => { if (status !== "open") $("status").textContent = status; },
  });
}

$("subscribe-form").addEventListener("submit", (event) => { event.preventDefault(); subscribe(); });
$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const headers = {};
  if ($("token").value) headers["Authorization"] = "Bearer " + $("token").value;
  try {
    const response = await fetch("publish/" + encodeURIComponent($("topic").value.trim()),
                                 { method: "POST", headers, body: $("message").value });
    $("result").textContent = response.status + " " + await response.text();
  } catch (error) {
    $("result").textContent = String(error);
  }
});
subscribe();
</script>
</body>
</html>
)PAGE";

}  // namespace surge::push
