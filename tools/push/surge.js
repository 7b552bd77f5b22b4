// surge.js: the client for surge-push, without dependencies, for browsers and Node.
// It connects to surge-push's /ws with envelopes, reconnects by itself (exponential backoff with jitter), and
// resumes every topic from the last offset it delivered, so the application sees each publication once and in
// order; when the server cannot give back what was missed (history too short, or the server restarted), it
// says so through onLost and carries on from the live stream.
//
//   const client = new SurgeClient("wss://push.example.com/ws", {
//     topics: ["news"],
//     onMessage: (m) => console.log(m.topic, m.offset, m.data),  // data: a string, or Uint8Array for binary
//     onLost: (topic, info) => console.warn("missed some of", topic, info),
//     onStatus: (status) => console.log(status),                 // "connecting", "open", "closed", "stopped"
//     onSubscribed: (topic, answer) => {},                       // the server holds it: {offset, epoch, recovered}
//   });
//   client.subscribe("sport"); client.unsubscribe("news"); client.close();
//
// In Node before 22, pass a WebSocket class: new SurgeClient(url, { WebSocket: require("ws") }).
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.SurgeClient = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  function decodeBase64(text) {
    if (typeof atob === "function") {
      const raw = atob(text);
      const bytes = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
      return bytes;
    }
    return new Uint8Array(Buffer.from(text, "base64"));
  }

  class SurgeClient {
    constructor(url, options) {
      options = options || {};
      this.url = url;
      this.WebSocket = options.WebSocket || (typeof WebSocket !== "undefined" ? WebSocket : null);
      if (!this.WebSocket) throw new Error("surge.js: no WebSocket here; pass options.WebSocket");
      this.onMessage = options.onMessage || function () {};
      this.onLost = options.onLost || function () {};
      this.onStatus = options.onStatus || function () {};
      this.onSubscribed = options.onSubscribed || function () {};
      this.minDelay = options.minDelay || 250;      // ms before the first reconnect
      this.maxDelay = options.maxDelay || 15000;    // ms, the most between two attempts
      this.positions = new Map();  // topic -> { offset (last delivered, or null), epoch (or null) }
      this.attempt = 0;
      this.nextId = 1;
      this.socket = null;
      this.stopped = false;
      for (const topic of options.topics || []) this.positions.set(topic, { offset: null, epoch: null });
      this.connect();
    }

    subscribe(topic) {
      if (this.positions.has(topic)) return;
      this.positions.set(topic, { offset: null, epoch: null });
      this.sendSubscribe(topic);
    }

    unsubscribe(topic) {
      if (!this.positions.delete(topic)) return;
      this.send({ unsubscribe: topic });
    }

    close() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.socket) this.socket.close(1000, "client closed");
      this.onStatus("stopped");
    }

    connect() {
      if (this.stopped) return;
      this.onStatus("connecting");
      const separator = this.url.indexOf("?") < 0 ? "?" : "&";
      const socket = new this.WebSocket(this.url + separator + "format=json");
      this.socket = socket;
      socket.onopen = () => {
        this.attempt = 0;
        this.onStatus("open");
        for (const topic of this.positions.keys()) this.sendSubscribe(topic);
      };
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = () => {
        if (this.socket !== socket) return;
        this.socket = null;
        this.onStatus("closed");
        this.reconnect();
      };
      socket.onerror = () => {};  // onclose follows
    }

    reconnect() {
      if (this.stopped) return;
      // Exponential backoff with full jitter: a server that comes back is not met by every client at once.
      const ceiling = Math.min(this.maxDelay, this.minDelay * Math.pow(2, this.attempt++));
      this.timer = setTimeout(() => this.connect(), ceiling / 2 + Math.random() * ceiling / 2);
    }

    sendSubscribe(topic) {
      const position = this.positions.get(topic);
      const command = { subscribe: topic, id: this.nextId++ };
      if (position.offset !== null) {
        command.since = position.offset;
        if (position.epoch) command.epoch = position.epoch;
      }
      this.send(command);
    }

    send(command) {
      if (this.socket && this.socket.readyState === 1) this.socket.send(JSON.stringify(command));
    }

    receive(text) {
      let message;
      try { message = JSON.parse(typeof text === "string" ? text : String(text)); } catch (e) { return; }
      const position = this.positions.get(message.topic !== undefined ? message.topic : message.subscribed);
      if ("data" in message) {
        if (!position) return;  // unsubscribed meanwhile
        if (message.epoch && position.epoch && message.epoch !== position.epoch) {
          // The topic's offsets began again under this connection (a broker that lost its data): what came before
          // cannot be recovered, and this one is the new epoch's.
          this.onLost(message.topic, { from: position.offset, epoch: position.epoch, now: message.offset - 1,
                                       newEpoch: message.epoch });
          position.epoch = message.epoch;
          position.offset = null;
        }
        if (position.offset !== null && message.offset <= position.offset) return;  // had it already
        if (position.offset !== null && message.offset > position.offset + 1) {
          // Offsets come one by one: a jump is publications this client will not get (the server dropped them for
          // a subscriber too far behind, or its broker no longer had them). Said, never silent.
          this.onLost(message.topic, { from: position.offset, epoch: position.epoch, now: message.offset - 1,
                                       newEpoch: position.epoch });
        }
        position.offset = message.offset;
        const data = message.encoding === "base64" ? decodeBase64(message.data) : message.data;
        this.onMessage({ topic: message.topic, offset: message.offset, data: data });
      } else if ("subscribed" in message && position) {
        const asked = position.offset !== null;
        if (asked && !message.recovered) {
          this.onLost(message.subscribed, { from: position.offset, epoch: position.epoch, now: message.offset,
                                            newEpoch: message.epoch });
        }
        // From here on the positions are this epoch's: the live stream continues after message.offset.
        if (!asked || !message.recovered || position.epoch !== message.epoch) position.offset = message.offset;
        position.epoch = message.epoch;
        this.onSubscribed(message.subscribed, message);
      }
    }
  }

  return SurgeClient;
});
