// SPDX-License-Identifier: Apache-2.0
// MQTT.js (npm "mqtt", protocolVersion 5) against the edgemq binary, as a Node-RED or web
// dashboard user would connect:
//
//   node mqtt5_test.js EDGEMQ_BINARY
//
// Starts edgemq on a free loopback port and checks what a 5.0 client sees: the CONNACK's
// properties, message properties passed through untouched (user properties in order, content
// type, response topic, correlation data, the time left of a Message Expiry Interval) with the
// subscription's identifier, MQTT.js's own topic aliases and the broker's towards it,
// request/response, a shared
// subscription split between two members, and a session that outlives its connection.
'use strict';

const mqtt = require('mqtt');
const assert = require('assert/strict');
const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [binary] = process.argv.slice(2);
if (!binary) {
  console.error('usage: node mqtt5_test.js EDGEMQ_BINARY');
  process.exit(2);
}

let gateway;
let url;
const clients = [];

function wait_for_ready(child, timeout_ms) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error('edgemq not ready:\n' + text)), timeout_ms);
    child.stderr.on('data', (chunk) => {
      text += chunk;
      const m = text.match(/ready: mqtt tcp on 127\.0\.0\.1:(\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => reject(new Error('edgemq exited with ' + code + ':\n' + text)));
  });
}

/// A connected MQTT.js client and its CONNACK.
async function connect(options = {}) {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
  clients.push(client);
  const connack = await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  return { client, connack };
}

/// The next `n` messages a client receives, as [topic, payload, packet].
function next_messages(client, n, timeout_ms = 5000) {
  return new Promise((resolve, reject) => {
    const got = [];
    const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n} messages`)), timeout_ms);
    const on_message = (topic, payload, packet) => {
      got.push([topic, payload.toString(), packet]);
      if (got.length === n) {
        clearTimeout(timer);
        client.removeListener('message', on_message);
        resolve(got);
      }
    };
    client.on('message', on_message);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connack_properties() {
  const { connack } = await connect({ clientId: 'js-connack' });
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties.topicAliasMaximum, 10);
  // Shared subscriptions, wildcards, identifiers and retain are available: nothing said.
  assert.equal(connack.properties.sharedSubscriptionAvailable, undefined);
  assert.equal(connack.properties.retainAvailable, undefined);
}

async function properties_pass_through() {
  const { client: sub } = await connect({ clientId: 'js-sub' });
  await sub.subscribeAsync('js/props', { qos: 1, properties: { subscriptionIdentifier: 7 } });
  const { client: pub } = await connect({ clientId: 'js-pub' });
  const arriving = next_messages(sub, 1);
  await pub.publishAsync('js/props', '{"t":21.5}', {
    qos: 1,
    properties: {
      payloadFormatIndicator: true,
      contentType: 'application/json',
      responseTopic: 'js/reply',
      correlationData: Buffer.from([0, 1, 2]),
      messageExpiryInterval: 60,
      userProperties: { unit: 'C', sensor: ['a', 'b'] },
    },
  });
  const [[topic, payload, packet]] = await arriving;
  assert.equal(topic, 'js/props');
  assert.equal(payload, '{"t":21.5}');
  const p = packet.properties;
  assert.equal(p.payloadFormatIndicator, true);
  assert.equal(p.contentType, 'application/json');
  assert.equal(p.responseTopic, 'js/reply');
  assert.deepEqual([...p.correlationData], [0, 1, 2]);
  assert.ok(p.messageExpiryInterval >= 59 && p.messageExpiryInterval <= 60, String(p.messageExpiryInterval));
  assert.deepEqual({ ...p.userProperties }, { unit: 'C', sensor: ['a', 'b'] });
  assert.equal(p.subscriptionIdentifier, 7);
}

async function topic_aliases() {
  const { client: sub } = await connect({ clientId: 'js-alias-sub' });
  await sub.subscribeAsync('js/alias/#', { qos: 1 });
  // MQTT.js sends the topic once and then only the alias, within the broker's maximum.
  const { client: pub } = await connect({ clientId: 'js-alias-pub', autoUseTopicAlias: true });
  const arriving = next_messages(sub, 3);
  for (const n of ['1', '2', '3']) {
    await pub.publishAsync('js/alias/long/topic/name', n, { qos: 1 });
  }
  const got = await arriving;
  assert.deepEqual(got.map(([t, p]) => t + ' ' + p),
                   ['js/alias/long/topic/name 1', 'js/alias/long/topic/name 2', 'js/alias/long/topic/name 3']);
}

async function topic_aliases_to_client() {
  // A subscriber that takes aliases gets the topic once, with alias 1, then the alias alone.
  const { client: sub } = await connect({ clientId: 'js-alias-in', properties: { topicAliasMaximum: 5 } });
  const raw = []; // as the packets arrived, before MQTT.js puts the topic back
  sub.on('packetreceive', (p) => {
    if (p.cmd === 'publish') raw.push([p.topic, p.properties && p.properties.topicAlias]);
  });
  await sub.subscribeAsync('js/alias-in/#', { qos: 1 });
  const arriving = next_messages(sub, 3);
  const { client: pub } = await connect({ clientId: 'js-alias-in-pub' });
  for (const n of ['1', '2', '3']) {
    await pub.publishAsync('js/alias-in/kitchen/temperature', n, { qos: 1 });
  }
  const got = await arriving;
  assert.deepEqual(got.map(([t, p]) => t + ' ' + p), ['js/alias-in/kitchen/temperature 1',
    'js/alias-in/kitchen/temperature 2', 'js/alias-in/kitchen/temperature 3']);
  assert.deepEqual(raw, [['js/alias-in/kitchen/temperature', 1], ['', 1], ['', 1]]);
}

async function request_response() {
  const { client: responder } = await connect({ clientId: 'js-responder' });
  await responder.subscribeAsync('js/req', { qos: 1 });
  responder.on('message', (topic, payload, packet) => {
    responder.publish(packet.properties.responseTopic, 'pong:' + payload, {
      qos: 1, properties: { correlationData: packet.properties.correlationData },
    });
  });
  const { client: requester } = await connect({ clientId: 'js-requester' });
  await requester.subscribeAsync('js/resp/requester', { qos: 1 });
  const arriving = next_messages(requester, 1);
  await requester.publishAsync('js/req', 'ping', {
    qos: 1, properties: { responseTopic: 'js/resp/requester', correlationData: Buffer.from('42') },
  });
  const [[, payload, packet]] = await arriving;
  assert.equal(payload, 'pong:ping');
  assert.equal(packet.properties.correlationData.toString(), '42');
}

async function shared_subscription() {
  const members = [];
  const counts = [0, 0];
  for (const i of [0, 1]) {
    const { client } = await connect({ clientId: 'js-worker-' + i });
    await client.subscribeAsync('$share/workers/js/jobs', { qos: 1 });
    client.on('message', () => { counts[i] += 1; });
    members.push(client);
  }
  const { client: pub } = await connect({ clientId: 'js-jobs' });
  for (let n = 0; n < 10; n++) {
    await pub.publishAsync('js/jobs', 'job-' + n, { qos: 1 });
  }
  for (let i = 0; i < 100 && counts[0] + counts[1] < 10; i++) await sleep(20);
  await sleep(200); // a (wrong) second copy would show by now
  assert.deepEqual(counts, [5, 5]); // one member each, in turn
}

async function session_expiry() {
  const options = { clientId: 'js-session', clean: false, properties: { sessionExpiryInterval: 60 } };
  const first = await connect(options);
  assert.equal(first.connack.sessionPresent, false);
  await first.client.subscribeAsync('js/session', { qos: 1 });
  await first.client.endAsync();
  const { client: pub } = await connect({ clientId: 'js-session-pub' });
  for (const n of ['1', '2']) {
    await pub.publishAsync('js/session', n, { qos: 1 });
  }
  const again = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
  clients.push(again);
  const arriving = next_messages(again, 2);
  const connack = await new Promise((resolve) => again.once('connect', resolve));
  assert.equal(connack.sessionPresent, true);
  assert.deepEqual((await arriving).map(([, p]) => p), ['1', '2']);
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgemq-mqttjs-'));
  try {
    const config = path.join(dir, 'edgemq.toml');
    fs.writeFileSync(config, '[[listeners]]\nbind = "127.0.0.1:0"\n\n[admin]\nenabled = false\n');
    gateway = spawn(binary, ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    url = 'mqtt://127.0.0.1:' + (await wait_for_ready(gateway, 20000));
    for (const check of [connack_properties, properties_pass_through, topic_aliases,
                         topic_aliases_to_client, request_response, shared_subscription, session_expiry]) {
      await check();
      console.log('ok ' + check.name);
    }
  } finally {
    for (const c of clients) c.end(true);
    if (gateway) gateway.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
